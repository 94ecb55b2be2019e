import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jsonResponse, mockFetch, renderPage, signIn } from "@/test/utils";
import ApkPage from "./index";
import type { Build } from "./schema";

function build(over: Partial<Build> = {}): Build {
  return {
    id: "aaaaaaaa-0000-4000-8000-000000000001",
    package: "com.nexmdm.agent",
    version_code: 42,
    version_name: "1.4.2",
    sha256: "ab".repeat(32),
    signer_fingerprint: "",
    channel: "stable",
    git_sha: "",
    ci_run_url: "",
    uploaded: true,
    size_bytes: 3 * 1024 * 1024,
    uploaded_at: "2025-01-01T00:00:00Z",
    registered_by: "key:ci",
    registered_at: "2025-01-01T00:00:00Z",
    download_url: "/admin/apk/download/aaaaaaaa-0000-4000-8000-000000000001",
    ...over,
  };
}

// SHA-256 of the bytes "abc".
const ABC_SHA = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

describe("APK builds page", () => {
  it("shows an empty state with what to do", async () => {
    signIn("admin");
    mockFetch({ "GET /admin/apk/builds": () => ({ items: [], next_cursor: null }) });
    renderPage(<ApkPage />);
    expect(await screen.findByText("No builds yet")).toBeInTheDocument();
  });

  it("registers a build with the file's SHA-256, then uploads the file", async () => {
    signIn("admin");
    const registered = build({ id: "bbbbbbbb-0000-4000-8000-000000000002", uploaded: false, size_bytes: null, sha256: ABC_SHA });
    const fetch = mockFetch({
      "GET /admin/apk/builds": () => ({ items: [], next_cursor: null }),
      "POST /admin/apk/register": () => jsonResponse(registered, 201),
      "POST /admin/apk/upload": () => ({ ...registered, uploaded: true, size_bytes: 3 }),
    });
    renderPage(<ApkPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Upload build" }));
    const dialog = await screen.findByRole("dialog");
    const file = new File(["abc"], "agent.apk", { type: "application/vnd.android.package-archive" });
    await user.upload(within(dialog).getByLabelText("APK file"), file);
    await user.type(within(dialog).getByLabelText("Package"), "com.nexmdm.agent");
    await user.type(within(dialog).getByLabelText("Version code"), "43");
    await user.type(within(dialog).getByLabelText("Version name"), "1.4.3");
    await user.click(within(dialog).getByRole("button", { name: "Upload" }));

    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const reg = fetch.mock.calls.find(([u]) => String(u).includes("/admin/apk/register"))!;
    expect(JSON.parse(String(reg[1]!.body))).toEqual({
      package: "com.nexmdm.agent",
      version_code: 43,
      version_name: "1.4.3",
      channel: "stable",
      sha256: ABC_SHA,
    });
    const up = fetch.mock.calls.find(([u]) => String(u).includes("/admin/apk/upload"))!;
    const body = up[1]!.body as FormData;
    expect(body.get("build_id")).toBe(registered.id);
    expect((body.get("file") as File).name).toBe("agent.apk");
    expect([...body.keys()]).toEqual(["build_id", "file"]);
  });

  it("checks the form before registering anything", async () => {
    signIn("admin");
    const fetch = mockFetch({ "GET /admin/apk/builds": () => ({ items: [], next_cursor: null }) });
    renderPage(<ApkPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Upload build" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText("Version code"), "0");
    await user.click(within(dialog).getByRole("button", { name: "Upload" }));
    expect(await within(dialog).findByText("Choose the APK file")).toBeInTheDocument();
    expect(within(dialog).getByText("Enter the Android package name")).toBeInTheDocument();
    expect(within(dialog).getByText("A whole number from 1")).toBeInTheDocument();
    expect(fetch.mock.calls.every(([, i]) => (i?.method ?? "GET") === "GET")).toBe(true);
  });

  it("downloads a build with the bearer token and saves it under the server's name", async () => {
    signIn("viewer");
    const fetch = mockFetch({
      "GET /admin/apk/builds": () => ({ items: [build()], next_cursor: null }),
      "GET /admin/apk/download/aaaaaaaa-0000-4000-8000-000000000001": () =>
        new Response("APKDATA", {
          status: 200,
          headers: { "Content-Disposition": 'attachment; filename="com.nexmdm.agent-42.apk"' },
        }),
    });
    const saved: { name: string; blob?: Blob }[] = [];
    let lastBlob: Blob | undefined;
    URL.createObjectURL = vi.fn((b: Blob) => {
      lastBlob = b;
      return "blob:apk";
    });
    URL.revokeObjectURL = vi.fn();
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      saved.push({ name: this.download, blob: lastBlob });
    });
    renderPage(<ApkPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Download com.nexmdm.agent 1.4.2" }));
    await waitFor(() => expect(saved).toHaveLength(1));
    expect(saved[0]!.name).toBe("com.nexmdm.agent-42.apk");
    expect(await saved[0]!.blob!.text()).toBe("APKDATA");
    const dl = fetch.mock.calls.find(([u]) => String(u).includes("/download/"))!;
    expect(new Headers(dl[1]!.headers).get("Authorization")).toBe("Bearer test-access");
  });

  it("hides upload and delete from a viewer", async () => {
    signIn("viewer");
    mockFetch({ "GET /admin/apk/builds": () => ({ items: [build()], next_cursor: null }) });
    renderPage(<ApkPage />);
    await screen.findByRole("table", { name: "APK builds" });
    expect(screen.queryByRole("button", { name: "Upload build" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Delete/ })).not.toBeInTheDocument();
  });

  it("deletes a build after confirmation", async () => {
    signIn("admin");
    let items = [build()];
    const fetch = mockFetch({
      "GET /admin/apk/builds": () => ({ items, next_cursor: null }),
      "DELETE /admin/apk/builds/aaaaaaaa-0000-4000-8000-000000000001": () => {
        items = [];
        return new Response(null, { status: 204 });
      },
    });
    renderPage(<ApkPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Delete com.nexmdm.agent 1.4.2" }));
    const confirm = await screen.findByRole("alertdialog");
    await user.click(within(confirm).getByRole("button", { name: "Delete build" }));
    expect(await screen.findByText("No builds yet")).toBeInTheDocument();
    expect(fetch.mock.calls.filter(([, i]) => i?.method === "DELETE")).toHaveLength(1);
  });

  it("finishes a registered build by uploading only its file, refusing a different file", async () => {
    signIn("admin");
    const pending = build({ uploaded: false, size_bytes: null, sha256: ABC_SHA });
    const fetch = mockFetch({
      "GET /admin/apk/builds": () => ({ items: [pending], next_cursor: null }),
      "POST /admin/apk/upload": () => ({ ...pending, uploaded: true, size_bytes: 3 }),
    });
    renderPage(<ApkPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Upload the file for com.nexmdm.agent 1.4.2" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).queryByLabelText("Package")).not.toBeInTheDocument();
    await user.upload(within(dialog).getByLabelText("APK file"), new File(["xyz"], "wrong.apk"));
    await user.click(within(dialog).getByRole("button", { name: "Upload" }));
    expect(await within(dialog).findByText(/Choose the file that was registered/)).toBeInTheDocument();
    expect(fetch.mock.calls.some(([u]) => String(u).includes("/upload"))).toBe(false);

    await user.upload(within(dialog).getByLabelText("APK file"), new File(["abc"], "agent.apk"));
    await user.click(within(dialog).getByRole("button", { name: "Upload" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(fetch.mock.calls.some(([u]) => String(u).includes("/register"))).toBe(false);
  });
});

import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jsonResponse, mockFetch, renderPage, signIn } from "@/test/utils";
import EnrollPage from "./index";

const result = {
  alias: "Warehouse Scanner 07",
  key_id: "ek_1234",
  key_expires_at: "2030-01-01T12:00:00Z",
  server_url: "https://mdm.example.com",
  build: {
    id: "b1",
    package: "com.nexmdm.agent",
    version_code: 42,
    version_name: "1.4.2",
    sha256: "a".repeat(64),
    size_bytes: 5_000_000,
  },
  scripts: {
    sh: "#!/bin/sh\necho full sh\n",
    cmd: "@echo off\r\necho full cmd\r\n",
    "sh-oneliner": "curl -fsSL https://mdm.example.com/e/SECRET | sh",
    "cmd-oneliner": "powershell -c iwr https://mdm.example.com/e/SECRET",
  },
  exit_codes: [
    { code: 0, step: null, meaning: "Enrolled", fix: "Nothing to do" },
    { code: 3, step: 2, meaning: "No device over adb", fix: "Plug it in and allow USB debugging" },
  ],
};

async function generate(alias = "Warehouse Scanner 07") {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Alias"), alias);
  await user.click(screen.getByRole("button", { name: "Generate scripts" }));
  return user;
}

describe("Enroll page", () => {
  it("asks for the scripts by alias and shows the four forms, the key's expiry, the build and the exit codes", async () => {
    signIn("operator");
    const fetch = mockFetch({ "GET /admin/enroll/script": () => result });
    renderPage(<EnrollPage />);
    await generate();

    expect(await screen.findByTestId("script-sh")).toHaveTextContent("echo full sh");
    expect(screen.getByTestId("script-cmd")).toHaveTextContent("echo full cmd");
    expect(screen.getByTestId("script-sh-oneliner")).toHaveTextContent("curl -fsSL");
    expect(screen.getByTestId("script-cmd-oneliner")).toHaveTextContent("powershell");
    const url = new URL(String(fetch.mock.calls[0]![0]), "http://x");
    expect(url.searchParams.get("alias")).toBe("Warehouse Scanner 07");
    expect(url.searchParams.get("kind")).toBe("all");
    expect(url.searchParams.get("expires_in_hours")).toBe("24");

    expect(screen.getByTestId("key-expires-at")).toHaveAttribute("dateTime", "2030-01-01T12:00:00Z");
    expect(screen.getAllByText(/contains? (the )?(a )?secret enroll key/i).length).toBeGreaterThanOrEqual(2);
    expect(screen.getByText("com.nexmdm.agent")).toBeInTheDocument();
    const table = screen.getByRole("table", { name: "Script exit codes" });
    expect(within(table).getByText("No device over adb")).toBeInTheDocument();
    expect(within(table).getByText("Plug it in and allow USB debugging")).toBeInTheDocument();
  });

  it("copies a one-liner to the clipboard", async () => {
    signIn("operator");
    mockFetch({ "GET /admin/enroll/script": () => result });
    renderPage(<EnrollPage />);
    const user = await generate();
    await user.click(await screen.findByRole("button", { name: "Copy One-liner (macOS, Linux)" }));
    expect(await navigator.clipboard.readText()).toBe(result.scripts["sh-oneliner"]);
    expect(screen.getByRole("button", { name: "Copy One-liner (macOS, Linux)" })).toHaveTextContent("Copied");
  });

  it("falls back to execCommand where the Clipboard API is missing", async () => {
    signIn("operator");
    mockFetch({ "GET /admin/enroll/script": () => result });
    renderPage(<EnrollPage />);
    const user = await generate();
    Object.defineProperty(navigator, "clipboard", { value: undefined, configurable: true });
    let copied = "";
    document.execCommand = vi.fn(() => {
      copied = (document.activeElement as HTMLTextAreaElement).value;
      return true;
    });
    await user.click(await screen.findByRole("button", { name: "Copy One-liner (Windows cmd)" }));
    expect(copied).toBe(result.scripts["cmd-oneliner"]);
  });

  it("downloads the full scripts from the answer, without asking the server again", async () => {
    signIn("operator");
    const fetch = mockFetch({ "GET /admin/enroll/script": () => result });
    const blobs: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => {
      blobs.push(b);
      return "blob:x";
    });
    URL.revokeObjectURL = vi.fn();
    const names: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      names.push(this.download);
    });
    renderPage(<EnrollPage />);
    const user = await generate();
    await user.click(await screen.findByRole("button", { name: "Download nexmdm-enroll-warehouse-scanner-07.sh" }));
    await user.click(screen.getByRole("button", { name: "Download nexmdm-enroll-warehouse-scanner-07.cmd" }));
    expect(names).toEqual(["nexmdm-enroll-warehouse-scanner-07.sh", "nexmdm-enroll-warehouse-scanner-07.cmd"]);
    expect(await blobs[0]!.text()).toBe(result.scripts.sh);
    expect(await blobs[1]!.text()).toBe(result.scripts.cmd);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("links to the APK builds when no agent build is uploaded", async () => {
    signIn("admin");
    mockFetch({
      "GET /admin/enroll/script": () =>
        jsonResponse({ error: "no_agent_build", message: "Upload an agent APK first." }, 409),
    });
    renderPage(<EnrollPage />);
    await generate();
    expect(await screen.findByText("Upload an agent APK first.")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Go to APK builds" })).toHaveAttribute("href", "/apk");
  });

  it("shows the server's alias error next to the field", async () => {
    signIn("admin");
    mockFetch({
      "GET /admin/enroll/script": () =>
        jsonResponse({ error: "invalid_field", field: "alias", message: "alias must be 1-64 printable characters" }, 400),
    });
    renderPage(<EnrollPage />);
    await generate("bad");
    expect(await screen.findByText("alias must be 1-64 printable characters")).toBeInTheDocument();
    expect(screen.getByLabelText("Alias")).toHaveAttribute("aria-invalid", "true");
  });

  it("asks for a key valid as many hours as chosen, within 1-168", async () => {
    signIn("admin");
    const fetch = mockFetch({ "GET /admin/enroll/script": () => result });
    renderPage(<EnrollPage />);
    const user = userEvent.setup();
    const hours = screen.getByLabelText("Key valid for (hours)");
    await user.clear(hours);
    await user.type(hours, "500");
    await generate();
    expect(await screen.findByText("A whole number of hours from 1 to 168")).toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
    await user.clear(hours);
    await user.type(hours, "2");
    await user.click(screen.getByRole("button", { name: "Generate scripts" }));
    await screen.findByTestId("script-sh");
    expect(new URL(String(fetch.mock.calls[0]![0]), "http://x").searchParams.get("expires_in_hours")).toBe("2");
  });

  it("checks for an empty alias before asking", async () => {
    signIn("admin");
    const fetch = mockFetch({});
    renderPage(<EnrollPage />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Generate scripts" }));
    expect(await screen.findByText("Enter an alias for the device")).toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });

  it("disables generation for a viewer", async () => {
    signIn("viewer");
    mockFetch({});
    renderPage(<EnrollPage />);
    await waitFor(() => expect(screen.getByRole("button", { name: "Generate scripts" })).toBeDisabled());
    expect(screen.getByLabelText("Alias")).toBeDisabled();
  });
});

import { cloneElement, type ReactElement } from "react";
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jsonResponse, mockFetch, renderPage, signIn, testFeed } from "@/test/utils";
import ReleasesPage from "./index";
import type { Release } from "./schema";

// jsdom has no layout: draw the charts at a fixed size instead of measuring.
vi.mock("recharts", async (importOriginal) => {
  const mod = await importOriginal<typeof import("recharts")>();
  return {
    ...mod,
    ResponsiveContainer: ({ children }: { children: ReactElement<{ width?: number; height?: number }> }) =>
      cloneElement(children, { width: 560, height: 224 }),
  };
});

const R1 = "11111111-0000-4000-8000-000000000001";
const R0 = "00000000-0000-4000-8000-0000000000aa";

function release(over: Partial<Release> = {}): Release {
  return {
    id: R1,
    build_id: "bbbbbbbb-0000-4000-8000-000000000001",
    channel: "stable",
    status: "active",
    rollout_percent: 20,
    wifi_only: false,
    min_battery_pct: 0,
    not_in_call: true,
    failure_threshold_pct: 20,
    failure_min_devices: 10,
    rollback_of: null,
    allow_downgrade: false,
    paused_reason: "",
    created_by: "user:alice",
    created_at: "2025-03-01T10:00:00Z",
    promoted_at: "2025-03-01T10:05:00Z",
    updated_at: "2025-03-01T10:05:00Z",
    package: "com.nexmdm.agent",
    version_code: 43,
    version_name: "1.4.3",
    ...over,
  };
}

const adoption = {
  release_id: R1,
  version_code: 43,
  states: { offered: 5, installed: 12, failed: 1 },
  timeline: [{ hour: "2025-03-01T11:00:00Z", installed: 12, failed: 1 }],
  versions: [
    { version_code: 42, devices: 80 },
    { version_code: 43, devices: 12 },
  ],
  version_history: [
    { at: "2025-03-01T10:00:00Z", version_code: 42, devices: 92 },
    { at: "2025-03-01T11:00:00Z", version_code: 42, devices: 80 },
    { at: "2025-03-01T11:00:00Z", version_code: 43, devices: 12 },
  ],
};

function routes(list: () => Release[], extra: Record<string, Parameters<typeof mockFetch>[0][string]> = {}) {
  return mockFetch({
    "GET /admin/releases": () => ({ items: list() }),
    [`GET /admin/releases/${R1}/adoption`]: () => adoption,
    [`GET /admin/releases/${R0}/adoption`]: () => ({ ...adoption, release_id: R0, states: {}, timeline: [], version_code: 42 }),
    ...extra,
  });
}

describe("Releases page", () => {
  it("shows the empty state", async () => {
    signIn("admin");
    mockFetch({ "GET /admin/releases": () => ({ items: [] }) });
    renderPage(<ReleasesPage />);
    expect(await screen.findByText("No releases yet")).toBeInTheDocument();
  });

  it("shows the active release with its adoption", async () => {
    signIn("viewer");
    routes(() => [release(), release({ id: R0, status: "superseded", version_code: 42, version_name: "1.4.2" })]);
    renderPage(<ReleasesPage />);
    const detail = await screen.findByRole("region", { name: /1\.4\.3 on stable/ });
    expect(await within(detail).findByText("Installed", { selector: "dt" })).toBeInTheDocument();
    expect(within(detail).getByText("12", { selector: "dd" })).toBeInTheDocument();
    expect(within(detail).getByRole("list", { name: "Devices by agent version now" })).toHaveTextContent("v42: 80");
    expect(within(detail).getByRole("img", { name: "Installs and failures per hour" }).querySelector("svg")).not.toBeNull();
    expect(within(detail).getByRole("img", { name: "Fleet agent versions over time" })).toHaveTextContent("v43 (this release)");
    // A viewer sees no controls.
    expect(within(detail).queryByRole("button", { name: /Promote|Pause|Roll back|Set rollout/ })).not.toBeInTheDocument();
    expect(within(detail).getByRole("slider", { name: "Rollout percent" })).toHaveAttribute("data-disabled");
  });

  it("sends the percent chosen on the rollout slider", async () => {
    signIn("admin");
    let current = release();
    const fetch = routes(() => [current], {
      [`PATCH /admin/releases/${R1}`]: (_u, init) => {
        current = release({ rollout_percent: JSON.parse(String(init.body)).rollout_percent });
        return current;
      },
    });
    renderPage(<ReleasesPage />);
    const slider = await screen.findByRole("slider", { name: "Rollout percent" });
    expect(slider).toHaveAttribute("aria-valuenow", "20");
    const user = userEvent.setup();
    slider.focus();
    await user.keyboard("{ArrowRight}{ArrowRight}{ArrowRight}{ArrowRight}{ArrowRight}");
    expect(screen.getByTestId("rollout-value")).toHaveTextContent("25% of the channel (now 20%)");
    await user.click(screen.getByRole("button", { name: "Set rollout to 25%" }));
    await waitFor(() => expect(fetch.mock.calls.some(([, i]) => i?.method === "PATCH")).toBe(true));
    const patch = fetch.mock.calls.find(([, i]) => i?.method === "PATCH")!;
    expect(JSON.parse(String(patch[1]!.body))).toEqual({ rollout_percent: 25 });
    await waitFor(() => expect(screen.getByTestId("rollout-value")).toHaveTextContent(/^25% of the channel$/));
  });

  it("promotes a draft after confirmation", async () => {
    signIn("admin");
    let current = release({ status: "draft", promoted_at: null });
    const fetch = routes(() => [current], {
      [`POST /admin/releases/${R1}/promote`]: () => (current = release()),
    });
    renderPage(<ReleasesPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Promote" }));
    const dialog = await screen.findByRole("alertdialog");
    await user.click(within(dialog).getByRole("button", { name: "Promote" }));
    await waitFor(() => expect(screen.queryByRole("alertdialog")).not.toBeInTheDocument());
    expect(await screen.findByRole("button", { name: "Pause" })).toBeInTheDocument();
    expect(fetch.mock.calls.filter(([, i]) => i?.method === "POST")).toHaveLength(1);
  });

  it("pauses with a reason and resumes", async () => {
    signIn("admin");
    let current = release();
    const fetch = routes(() => [current], {
      [`POST /admin/releases/${R1}/pause`]: (_u, init) =>
        (current = release({ status: "paused", paused_reason: JSON.parse(String(init.body)).reason })),
      [`POST /admin/releases/${R1}/resume`]: () => (current = release()),
    });
    renderPage(<ReleasesPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Pause" }));
    const dialog = await screen.findByRole("alertdialog");
    await user.type(within(dialog).getByLabelText("Reason (optional)"), "crash on Pixel 6");
    await user.click(within(dialog).getByRole("button", { name: "Pause" }));
    expect(await screen.findByText(/Paused: crash on Pixel 6/)).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Resume" }));
    expect(await screen.findByRole("button", { name: "Pause" })).toBeInTheDocument();
    const posts = fetch.mock.calls.filter(([, i]) => i?.method === "POST").map(([u, i]) => [String(u), i?.body]);
    expect(posts).toEqual([
      [`/admin/releases/${R1}/pause`, JSON.stringify({ reason: "crash on Pixel 6" })],
      [`/admin/releases/${R1}/resume`, undefined],
    ]);
  });

  it("rolls back with the downgrade option and says what it did", async () => {
    signIn("admin");
    let list = [release(), release({ id: R0, status: "superseded", version_code: 42, version_name: "1.4.2" })];
    const fetch = routes(() => list, {
      [`POST /admin/releases/${R1}/rollback`]: () => {
        list = [release({ status: "rolled_back" }), release({ id: R0, version_code: 42, version_name: "1.4.2", rollback_of: R1, allow_downgrade: true })];
        return {
          rolled_back: list[0],
          restored: list[1],
          already_updated: { count: 12, device_ids: [], offered_previous: true },
        };
      },
    });
    renderPage(<ReleasesPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Roll back" }));
    const dialog = await screen.findByRole("alertdialog");
    await user.click(within(dialog).getByRole("checkbox", { name: /Downgrade devices/ }));
    await user.click(within(dialog).getByRole("button", { name: "Roll back" }));
    const done = await screen.findByText("Rollback done");
    expect(done.parentElement).toHaveTextContent("Version 1.4.2 is current again on stable. 12 device(s) already run this version; they are offered the previous version");
    const post = fetch.mock.calls.find(([, i]) => i?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({ downgrade: true });
  });

  it("creates a draft from an uploaded build", async () => {
    signIn("admin");
    const fetch = routes(() => [], {
      "GET /admin/apk/builds": () => ({
        items: [
          {
            id: "bbbbbbbb-0000-4000-8000-000000000009",
            package: "com.nexmdm.agent",
            version_code: 44,
            version_name: "1.4.4",
            sha256: "ab".repeat(32),
            signer_fingerprint: "",
            channel: "beta",
            git_sha: "",
            ci_run_url: "",
            uploaded: true,
            size_bytes: 10,
            uploaded_at: "2025-03-01T00:00:00Z",
            registered_by: "key:ci",
            registered_at: "2025-03-01T00:00:00Z",
            download_url: "/x",
          },
        ],
        next_cursor: null,
      }),
      "POST /admin/releases": (_u, init) =>
        jsonResponse(release({ ...JSON.parse(String(init.body)), status: "draft", channel: "beta", version_code: 44 }), 201),
    });
    renderPage(<ReleasesPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "New release" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("combobox", { name: "Build" }));
    await user.click(await screen.findByRole("option", { name: /1\.4\.4 \(code 44\) · beta/ }));
    const pct = within(dialog).getByLabelText("Rollout (%)");
    await user.clear(pct);
    await user.type(pct, "5");
    await user.click(within(dialog).getByRole("switch", { name: "Wi-Fi only" }));
    await user.click(within(dialog).getByRole("button", { name: "Create draft" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const post = fetch.mock.calls.find(([u, i]) => String(u) === "/admin/releases" && i?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({
      build_id: "bbbbbbbb-0000-4000-8000-000000000009",
      rollout_percent: 5,
      wifi_only: true,
      min_battery_pct: 0,
      not_in_call: true,
      failure_threshold_pct: 20,
      failure_min_devices: 10,
    });
  });

  it("refetches when the feed reports a release change", async () => {
    signIn("viewer");
    let current = release();
    const fetch = routes(() => [current]);
    const { feed, emit } = testFeed();
    renderPage(<ReleasesPage />, { feed });
    await screen.findByRole("region", { name: /1\.4\.3 on stable/ });
    const before = fetch.mock.calls.filter(([u]) => String(u).startsWith("/admin/releases?")).length;
    current = release({ status: "paused", paused_reason: "too many failures" });
    act(() => emit("release.pause", [current]));
    expect(await screen.findByText(/Paused: too many failures/)).toBeInTheDocument();
    expect(fetch.mock.calls.filter(([u]) => String(u).startsWith("/admin/releases?")).length).toBeGreaterThan(before);
  });
});

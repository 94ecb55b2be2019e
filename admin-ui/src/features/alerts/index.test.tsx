import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { jsonResponse, mockFetch, renderPage, signIn, testFeed } from "@/test/utils";
import AlertsPage from "./index";
import type { Alert } from "./schema";

const DEV = "dddddddd-0000-4000-8000-000000000001";

function alert(over: Partial<Alert> = {}): Alert {
  return {
    id: "aaaaaaaa-0000-4000-8000-000000000001",
    device_id: DEV,
    rule: "low_battery",
    severity: "warning",
    details: { battery_pct: 9, threshold_pct: 15 },
    notified: true,
    fired_at: "2025-03-01T10:00:00Z",
    resolved_at: null,
    acknowledged_at: null,
    acknowledged_by: null,
    remediation_attempts: 0,
    last_remediation_at: null,
    remediated: null,
    ...over,
  };
}

const rules = {
  items: [
    { rule: "offline", severity: "warning", enabled: true, channels: [] },
    { rule: "low_battery", severity: "info", enabled: true, channels: [] },
    { rule: "service_down", severity: "critical", enabled: true, channels: [] },
    { rule: "release_failures", severity: "critical", enabled: true, channels: [] },
  ],
};
const channel = {
  id: "cccccccc-0000-4000-8000-000000000001",
  name: "ops",
  kind: "discord",
  target: "https://discord.com",
  has_secret: false,
  min_severity: "warning",
  enabled: true,
};

describe("Alerts page", () => {
  it("lists open alerts by default and refetches with the chosen filters", async () => {
    signIn("operator");
    const fetch = mockFetch({
      "GET /admin/alerts": (url) =>
        url.searchParams.get("severity") === "critical"
          ? { items: [], next_cursor: null }
          : { items: [alert(), alert({ id: "aaaaaaaa-0000-4000-8000-000000000002", device_alias: "Till 3" })], next_cursor: null },
      "GET /admin/alert-rules": () => rules,
    });
    renderPage(<AlertsPage />);
    const row = await screen.findByTestId(`alert-${alert().id}`);
    expect(within(row).getByText("Low battery")).toBeInTheDocument();
    expect(within(row).getByRole("link", { name: DEV.slice(0, 8) })).toHaveAttribute("href", `/devices/${DEV}`);
    const named = screen.getByTestId("alert-aaaaaaaa-0000-4000-8000-000000000002");
    expect(within(named).getByRole("link", { name: "Till 3" })).toHaveAttribute("href", `/devices/${DEV}`);
    const first = new URL(String(fetch.mock.calls[0]![0]), "http://x");
    expect(first.searchParams.get("status")).toBe("open");

    const user = userEvent.setup();
    await user.click(screen.getByRole("combobox", { name: "Severity" }));
    await user.click(await screen.findByRole("option", { name: "critical" }));
    expect(await screen.findByText("No alerts match")).toBeInTheDocument();
    const last = new URL(String(fetch.mock.calls.at(-1)![0]), "http://x");
    expect(last.searchParams.get("severity")).toBe("critical");
    expect(last.searchParams.get("status")).toBe("open");
  });

  it("refuses a device filter that is not a UUID, and sends a valid one as device_id", async () => {
    signIn("viewer");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
    });
    renderPage(<AlertsPage />);
    await screen.findByText("No open alerts");
    const user = userEvent.setup();
    await user.type(screen.getByLabelText("Device ID"), "nope");
    await user.click(screen.getByRole("button", { name: "Apply" }));
    expect(await screen.findByText(/A device id is a UUID/)).toBeInTheDocument();
    await user.clear(screen.getByLabelText("Device ID"));
    await user.type(screen.getByLabelText("Device ID"), DEV);
    await user.click(screen.getByRole("button", { name: "Apply" }));
    await waitFor(() => {
      const last = new URL(String(fetch.mock.calls.at(-1)![0]), "http://x");
      expect(last.searchParams.get("device_id")).toBe(DEV);
    });
  });

  it("acknowledges an alert and shows who did", async () => {
    signIn("operator", "olga");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [alert()], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
      [`POST /admin/alerts/${alert().id}/ack`]: () =>
        alert({ acknowledged_at: "2025-03-01T10:05:00Z", acknowledged_by: "user:olga" }),
    });
    renderPage(<AlertsPage />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: /^Acknowledge Low battery alert/ }));
    expect(await screen.findByText("acked by user:olga")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Acknowledge/ })).not.toBeInTheDocument();
    expect(fetch.mock.calls.filter(([, i]) => i?.method === "POST")).toHaveLength(1);
  });

  it("follows the live feed: fired alerts appear, resolved ones leave the open list", async () => {
    signIn("viewer");
    mockFetch({
      "GET /admin/alerts": () => ({ items: [alert()], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
    });
    const { feed, emit } = testFeed();
    renderPage(<AlertsPage />, { feed });
    await screen.findByTestId(`alert-${alert().id}`);
    expect(screen.queryByRole("button", { name: /^Acknowledge/ })).not.toBeInTheDocument(); // viewer

    const fired = alert({ id: "aaaaaaaa-0000-4000-8000-000000000002", rule: "offline", severity: "critical", fired_at: "2025-03-01T11:00:00Z", details: {} });
    act(() => emit("alert.fired", [fired]));
    await screen.findByTestId(`alert-${fired.id}`);
    const rows = screen.getAllByTestId(/^alert-/);
    expect(rows.map((r) => r.dataset.testid)).toEqual([`alert-${fired.id}`, `alert-${alert().id}`]);

    act(() => emit("alert.resolved", [alert({ resolved_at: "2025-03-01T11:30:00Z" })]));
    await waitFor(() => expect(screen.queryByTestId(`alert-${alert().id}`)).not.toBeInTheDocument());
    expect(screen.getByTestId(`alert-${fired.id}`)).toBeInTheDocument();

    act(() => emit("alert.acknowledged", [{ ...fired, acknowledged_at: "2025-03-01T11:31:00Z", acknowledged_by: "user:x" }]));
    expect(await screen.findByText("acked by user:x")).toBeInTheDocument();
  });

  it("hides channel settings from non-admins", async () => {
    signIn("operator");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
    });
    renderPage(<AlertsPage />);
    await screen.findByText("No open alerts");
    expect(screen.queryByRole("tab", { name: "Channels" })).not.toBeInTheDocument();
    await userEvent.setup().click(screen.getByRole("tab", { name: "Rules" }));
    expect(await screen.findByRole("table", { name: "Alert rules" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Save/ })).not.toBeInTheDocument();
    expect(fetch.mock.calls.some(([u]) => String(u).includes("alert-channels"))).toBe(false);
  });

  it("sends a test alert and shows how each channel took it", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
      "GET /admin/alert-channels": () => ({ items: [channel] }),
      "POST /admin/alerts/test": () => ({
        channels: [
          { channel: "ops", ok: true },
          { channel: "pager", ok: false, error: "HTTP 404 from the webhook" },
        ],
      }),
    });
    renderPage(<AlertsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "Channels" }));
    await screen.findByRole("table", { name: "Alert channels" });
    await user.click(screen.getByRole("button", { name: "Send test alert" }));
    const results = await screen.findByTestId("test-alert-results");
    expect(results).toHaveTextContent("ops: delivered");
    expect(results).toHaveTextContent("pager: failed — HTTP 404 from the webhook");
    expect(fetch.mock.calls.filter(([u, i]) => String(u).endsWith("/admin/alerts/test") && i?.method === "POST")).toHaveLength(1);
  });

  it("adds a webhook channel with its secret", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
      "GET /admin/alert-channels": () => ({ items: [] }),
      "POST /admin/alert-channels": () =>
        jsonResponse({ ...channel, id: "x", name: "hooks", kind: "webhook", has_secret: true }, 201),
    });
    renderPage(<AlertsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "Channels" }));
    expect(await screen.findByText("No channels")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Add channel" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText("Name"), "hooks");
    await user.click(within(dialog).getByRole("combobox", { name: "Kind" }));
    await user.click(await screen.findByRole("option", { name: "Signed webhook" }));
    await user.type(within(dialog).getByLabelText("Webhook URL"), "https://hooks.example.com/in");
    await user.type(within(dialog).getByLabelText("Signing secret"), "s3cret");
    await user.click(within(dialog).getByRole("button", { name: "Add channel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const post = fetch.mock.calls.find(([u, i]) => String(u).endsWith("/admin/alert-channels") && i?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({
      name: "hooks",
      kind: "webhook",
      url: "https://hooks.example.com/in",
      secret: "s3cret",
      min_severity: "warning",
      enabled: true,
    });
  });

  it("edits only what changed on a channel", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
      "GET /admin/alert-channels": () => ({ items: [channel] }),
      [`PATCH /admin/alert-channels/${channel.id}`]: () => ({ ...channel, min_severity: "critical" }),
    });
    renderPage(<AlertsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "Channels" }));
    await user.click(await screen.findByRole("button", { name: "Edit ops" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("combobox", { name: "Minimum severity" }));
    await user.click(await screen.findByRole("option", { name: "critical" }));
    await user.click(within(dialog).getByRole("button", { name: "Save channel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    const patch = fetch.mock.calls.find(([, i]) => i?.method === "PATCH")!;
    expect(JSON.parse(String(patch[1]!.body))).toEqual({ min_severity: "critical" });
  });

  it("saves a rule's severity and channels", async () => {
    signIn("admin");
    const fetch = mockFetch({
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
      "GET /admin/alert-rules": () => rules,
      "GET /admin/alert-channels": () => ({ items: [channel] }),
      "PUT /admin/alert-rules/offline": (_u, init) => ({ rule: "offline", ...JSON.parse(String(init.body)) }),
    });
    renderPage(<AlertsPage />);
    const user = userEvent.setup();
    await user.click(screen.getByRole("tab", { name: "Rules" }));
    await screen.findByRole("table", { name: "Alert rules" });
    const save = await screen.findByRole("button", { name: "Save Offline rule" });
    expect(save).toBeDisabled();
    await user.click(screen.getByRole("combobox", { name: "Offline severity" }));
    await user.click(await screen.findByRole("option", { name: "critical" }));
    const row = save.closest("tr")!;
    await user.click(await within(row).findByRole("checkbox", { name: "ops" }));
    await user.click(screen.getByRole("button", { name: "Save Offline rule" }));
    await waitFor(() => expect(fetch.mock.calls.some(([, i]) => i?.method === "PUT")).toBe(true));
    const put = fetch.mock.calls.find(([, i]) => i?.method === "PUT")!;
    expect(JSON.parse(String(put[1]!.body))).toEqual({ severity: "critical", enabled: true, channels: ["ops"] });
  });
});

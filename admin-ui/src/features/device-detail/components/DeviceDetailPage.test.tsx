import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import DeviceDetailPage from "@/features/device-detail";
import { jsonResponse, mockFetch, renderPage, signIn, testFeed } from "@/test/utils";
import { makeDevice } from "@/test/fixtures";
import type { Command } from "@/features/commands/schema";

const device = makeDevice({ alias: "lobby-kiosk", battery_pct: 64 });
const detail = {
  ...device,
  enrollment: {
    manufacturer: "Google",
    android_version: "14",
    sdk_int: 34,
    agent_version: "1.4.0",
    agent_version_code: 140,
    fcm_registered: true,
    hmac_key_id: "k1",
    token_rotated_at: "2024-01-01T00:00:00Z",
  },
  live: { ts: "2024-01-01T00:00:00Z", received_at: "2024-01-01T00:00:00Z", ram_used_mb: 1200, ram_total_mb: 4000, net_type: "wifi" },
  monitoring: { device_id: device.id, monitored_package: "", display_name: "", threshold_min: 10, enabled: false, auto_remediate: false },
};
const monitoring = { ...detail.monitoring, service: null };
let current = detail; // what the server answers now

function command(over: Partial<Command> = {}): Command {
  return {
    id: "33333333-3333-4333-8333-333333333333",
    device_id: device.id,
    type: "ping",
    params: {},
    status: "queued",
    issued_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 600_000).toISOString(),
    created_by: "user:alice",
    updated_at: new Date().toISOString(),
    result: null,
    ...over,
  };
}

function setup(role: "admin" | "operator" | "viewer" = "admin") {
  current = detail;
  const fetch = mockFetch({
    [`GET /admin/devices/${device.id}`]: () => current,
    [`GET /admin/devices/${device.id}/heartbeats`]: () => ({
      device_id: device.id,
      from: "2024-01-01T00:00:00Z",
      to: "2024-01-02T00:00:00Z",
      step_s: 300,
      points: [],
    }),
    [`GET /admin/devices/${device.id}/monitoring`]: () => monitoring,
    [`PATCH /admin/devices/${device.id}/monitoring`]: (_u, init) => ({ ...monitoring, ...JSON.parse(String(init.body)) }),
    "GET /admin/commands": () => ({ commands: [], next_cursor: null }),
    "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
    [`POST /admin/devices/${device.id}/commands`]: () => jsonResponse(command(), 201),
  });
  signIn(role);
  const { feed, emit } = testFeed();
  renderPage(<DeviceDetailPage />, { path: `/devices/${device.id}`, route: "/devices/:id", feed });
  return { fetch, emit };
}

describe("DeviceDetailPage", () => {
  it("shows the device and its live status", async () => {
    const { emit } = setup();
    expect(await screen.findByRole("heading", { name: "lobby-kiosk" })).toBeInTheDocument();
    expect(screen.getByTestId("device-battery")).toHaveTextContent("64%");
    expect(screen.getByText("1200 / 4000 MB")).toBeInTheDocument();
    const changed = { ...device, battery_pct: 30, status: "offline" as const };
    current = { ...detail, ...changed };
    act(() => emit("device.status", [changed]));
    await waitFor(() => expect(screen.getByTestId("device-battery")).toHaveTextContent("30%"));
    expect(screen.getByTestId("device-status")).toHaveAttribute("data-status", "offline");
  });

  it("sends a command and follows its lifecycle from feed events", async () => {
    const { emit, fetch } = setup("operator");
    await screen.findByRole("heading", { name: "lobby-kiosk" });
    await userEvent.click(screen.getByRole("button", { name: "Send command" }));
    const item = await screen.findByTestId("command-item");
    expect(within(item).getByTestId("command-status")).toHaveTextContent("queued");
    const post = fetch.mock.calls.find((c) => c[1]?.method === "POST")!;
    expect(JSON.parse(String(post[1]!.body))).toEqual({ type: "ping", params: {} });

    const change = (status: string) => [{ device_id: device.id, command_id: command().id, status, type: "ping", at: new Date().toISOString() }];
    act(() => emit("command.sent", change("sent")));
    await waitFor(() => expect(screen.getByTestId("command-status")).toHaveTextContent("sent"));
    act(() => emit("command.succeeded", change("succeeded")));
    await waitFor(() => expect(screen.getByTestId("command-status")).toHaveTextContent("succeeded"));
    // A late "sent" does not move it back.
    act(() => emit("command.sent", change("sent")));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("command-status")).toHaveTextContent("succeeded");
  });

  it("checks a command's parameters before sending", async () => {
    const { fetch } = setup("admin");
    await screen.findByRole("heading", { name: "lobby-kiosk" });
    await userEvent.click(screen.getByRole("combobox", { name: "Command type" }));
    await userEvent.click(await screen.findByRole("option", { name: "Launch app" }));
    await userEvent.click(screen.getByRole("button", { name: "Send command" }));
    expect(await screen.findByText("Package is required")).toBeInTheDocument();
    const form = screen.getByRole("form", { name: "Command" });
    await userEvent.type(within(form).getByLabelText("Package"), "not a package");
    await userEvent.click(screen.getByRole("button", { name: "Send command" }));
    expect(await screen.findByText(/android package name/i)).toBeInTheDocument();
    expect(fetch.mock.calls.some((c) => c[1]?.method === "POST")).toBe(false);
  });

  it("saves only the monitoring fields that changed", async () => {
    const { fetch } = setup("operator");
    const form = await screen.findByRole("form", { name: "Service monitoring" });
    const pkg = within(form).getByLabelText("Package");
    await userEvent.type(pkg, "com.acme.kiosk");
    await userEvent.click(screen.getByRole("switch", { name: "Enabled" }));
    await userEvent.click(screen.getByRole("button", { name: "Save monitoring" }));
    await waitFor(() => expect(fetch.mock.calls.some((c) => c[1]?.method === "PATCH")).toBe(true));
    const patch = fetch.mock.calls.find((c) => c[1]?.method === "PATCH")!;
    expect(JSON.parse(String(patch[1]!.body))).toEqual({ monitored_package: "com.acme.kiosk", enabled: true });
  });

  it("a viewer sees no command form, no delete and read-only monitoring", async () => {
    setup("viewer");
    await screen.findByRole("heading", { name: "lobby-kiosk" });
    expect(screen.queryByRole("button", { name: "Send command" })).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /delete device/i })).not.toBeInTheDocument();
    expect(await screen.findByRole("switch", { name: "Enabled" })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Save monitoring" })).not.toBeInTheDocument();
  });
});

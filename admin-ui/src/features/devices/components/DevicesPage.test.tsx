import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import DevicesPage from "@/features/devices";
import { jsonResponse, mockFetch, renderPage, signIn, testFeed } from "@/test/utils";
import { makeDevice } from "@/test/fixtures";

const summary = {
  at: "2024-01-01T00:00:00Z",
  total: 3,
  online: 2,
  offline: 1,
  never: 0,
  alerting: 0,
  battery: { bands: [], unknown: 0, charging: 0, low: 0 },
  agent_versions: [{ version: "1.4.0", count: 3 }],
  monitoring: { monitored: 0, services_down: 0 },
};

function setup(role: "admin" | "operator" | "viewer" = "admin") {
  const devices = [
    makeDevice({ alias: "lobby-kiosk", battery_pct: 55 }),
    makeDevice({ alias: "warehouse-1", status: "offline" }),
    makeDevice({ alias: "van-7" }),
  ];
  const fetch = mockFetch({
    "GET /admin/devices": () => ({ devices, total: 3, next_cursor: null }),
    "GET /admin/fleet/summary": () => summary,
    "POST /admin/devices/selection": () =>
      jsonResponse({ selection_id: "11111111-1111-4111-8111-111111111111", count: 2, expires_at: "2030-01-01T00:00:00Z", confirm: "DELETE 2" }, 201),
    "POST /admin/devices/bulk-delete": () => jsonResponse({ job_id: "22222222-2222-4222-8222-222222222222", status: "deleting", total: 2 }, 202),
  });
  signIn(role);
  const { feed, emit } = testFeed();
  renderPage(<DevicesPage />, { path: "/devices", feed });
  return { devices, fetch, emit };
}

describe("DevicesPage", () => {
  it("renders the rows the server returns, with status and battery", async () => {
    const { devices } = setup();
    const rows = await screen.findAllByTestId("device-row");
    expect(rows).toHaveLength(3);
    expect(rows[0]).toHaveAttribute("data-device-id", devices[0]!.id);
    expect(within(rows[0]!).getByTestId("device-battery")).toHaveTextContent("55%");
    expect(within(rows[1]!).getByTestId("device-status")).toHaveAttribute("data-status", "offline");
    expect(screen.getByText(/3 matching/)).toBeInTheDocument();
  });

  it("sends search, filters and sort as query parameters", async () => {
    const { fetch } = setup();
    await screen.findAllByTestId("device-row");
    await userEvent.type(screen.getByLabelText("Search"), "kiosk");
    await waitFor(() => {
      const urls = fetch.mock.calls.map((c) => String(c[0]));
      expect(urls.some((u) => u.startsWith("/admin/devices?") && u.includes("q=kiosk"))).toBe(true);
    });
    await userEvent.click(screen.getByRole("button", { name: "Battery" }));
    await waitFor(() => {
      const urls = fetch.mock.calls.map((c) => String(c[0]));
      expect(urls.some((u) => u.includes("sort=battery") && u.includes("order=asc"))).toBe(true);
    });
  });

  it("updates battery and status live from device.status events", async () => {
    const { devices, emit } = setup();
    await screen.findAllByTestId("device-row");
    act(() => emit("device.status", [{ ...devices[0]!, battery_pct: 12 }]));
    act(() => emit("device.offline", [{ device_id: devices[2]!.id, at: "2024-01-01T00:00:00Z", last_seen: "2024-01-01T00:00:00Z" }]));
    await waitFor(() => {
      const rows = screen.getAllByTestId("device-row");
      expect(within(rows[0]!).getByTestId("device-battery")).toHaveTextContent("12%");
      expect(within(rows[2]!).getByTestId("device-status")).toHaveAttribute("data-status", "offline");
    });
  });

  it("merges a heartbeat's patch into its row and keeps what the patch leaves out", async () => {
    const { devices, emit } = setup();
    await screen.findAllByTestId("device-row");
    const last_seen = "2024-01-01T00:00:05Z";
    act(() => emit("device.status", [{ id: devices[1]!.id, last_seen, status: "online", battery_pct: 7 }]));
    act(() => emit("device.status", [{ id: "99999999-9999-4999-8999-999999999999", last_seen, battery_pct: 50 }]));
    await waitFor(() => {
      const row = screen.getAllByTestId("device-row")[1]!;
      expect(within(row).getByTestId("device-battery")).toHaveTextContent("7%");
      expect(within(row).getByTestId("device-status")).toHaveAttribute("data-status", "online");
    });
    const rows = screen.getAllByTestId("device-row");
    expect(rows).toHaveLength(3); // a patch never adds a device
    expect(within(rows[1]!).getByText("warehouse-1")).toBeInTheDocument();
    expect(screen.getByText(/3 matching/)).toBeInTheDocument();
  });

  it("shows a newly enrolled device live at the top", async () => {
    const { emit } = setup();
    await screen.findAllByTestId("device-row");
    const fresh = makeDevice({ alias: "brand-new", enrolled_at: new Date().toISOString() });
    act(() => emit("device.status", [fresh]));
    await waitFor(() => expect(screen.getAllByTestId("device-row")).toHaveLength(4));
    expect(screen.getAllByTestId("device-row")[0]).toHaveAttribute("data-device-id", fresh.id);
    expect(screen.getByText(/4 matching/)).toBeInTheDocument();
  });

  it("bulk delete: the confirm button stays disabled until the text matches", async () => {
    const { fetch } = setup("admin");
    await screen.findAllByTestId("device-row");
    await userEvent.click(screen.getByRole("checkbox", { name: "Select lobby-kiosk" }));
    await userEvent.click(screen.getByRole("checkbox", { name: "Select van-7" }));
    expect(screen.getByTestId("selection-count")).toHaveTextContent("2 selected");
    await userEvent.click(screen.getByRole("button", { name: /delete/i }));

    const dialog = await screen.findByRole("dialog");
    expect(await within(dialog).findByTestId("bulk-delete-count")).toHaveTextContent("2");
    const confirm = within(dialog).getByRole("button", { name: /delete 2/i });
    expect(confirm).toBeDisabled();
    const input = within(dialog).getByLabelText(/to confirm/i);
    await userEvent.type(input, "DELETE 3");
    expect(confirm).toBeDisabled();
    await userEvent.clear(input);
    await userEvent.type(input, "DELETE 2");
    expect(confirm).toBeEnabled();
    await userEvent.click(within(dialog).getByLabelText("Purge history"));
    await userEvent.click(confirm);

    await waitFor(() => expect(fetch.mock.calls.some((c) => String(c[0]) === "/admin/devices/bulk-delete")).toBe(true));
    const call = fetch.mock.calls.find((c) => String(c[0]) === "/admin/devices/bulk-delete")!;
    expect(JSON.parse(String(call[1]!.body))).toEqual({
      selection_id: "11111111-1111-4111-8111-111111111111",
      confirm: "DELETE 2",
      purge_history: true,
    });
    const selCall = fetch.mock.calls.find((c) => String(c[0]) === "/admin/devices/selection")!;
    expect(JSON.parse(String(selCall[1]!.body)).device_ids).toHaveLength(2);
  });

  it("a viewer gets no selection and no bulk actions", async () => {
    setup("viewer");
    await screen.findAllByTestId("device-row");
    expect(screen.queryByRole("checkbox")).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /delete/i })).not.toBeInTheDocument();
  });

  it("an operator may send commands but not delete", async () => {
    setup("operator");
    await screen.findAllByTestId("device-row");
    await userEvent.click(screen.getByRole("checkbox", { name: "Select van-7" }));
    expect(screen.getByRole("button", { name: /send command/i })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^delete$/i })).not.toBeInTheDocument();
  });
});

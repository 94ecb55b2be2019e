import { act, screen, waitFor } from "@testing-library/react";
import OverviewPage from "@/features/overview";
import { jsonResponse, mockFetch, renderPage, signIn, testFeed } from "@/test/utils";
import type { FleetSummary } from "@/features/overview/schema";

const summary: FleetSummary = {
  at: new Date().toISOString(),
  total: 120,
  online: 100,
  offline: 15,
  never: 5,
  alerting: 7,
  battery: {
    bands: [
      { band: "0-14", count: 4 },
      { band: "15-29", count: 10 },
      { band: "30-59", count: 40 },
      { band: "60-100", count: 60 },
    ],
    unknown: 6,
    charging: 12,
    low: 3,
  },
  agent_versions: [
    { version: "1.4.0", count: 90 },
    { version: "1.3.2", count: 30 },
  ],
  monitoring: { monitored: 50, services_down: 2 },
};

describe("OverviewPage", () => {
  it("shows the fleet counts, versions and open alerts", async () => {
    mockFetch({
      "GET /admin/fleet/summary": () => summary,
      "GET /admin/alerts": () => ({ items: [{ id: "a", severity: "critical", rule: "offline" }], next_cursor: null }),
    });
    signIn("viewer");
    renderPage(<OverviewPage />);
    expect(await screen.findByTestId("stat-total")).toHaveTextContent("120");
    expect(screen.getByTestId("stat-online")).toHaveTextContent("100");
    expect(screen.getByTestId("stat-offline")).toHaveTextContent("15");
    expect(screen.getByTestId("stat-services-down")).toHaveTextContent("2");
    expect(screen.getByTestId("stat-alerting")).toHaveTextContent("7");
    expect(await screen.findByTestId("stat-alerts")).toHaveTextContent("1");
    expect(screen.getByText("1.3.2")).toBeInTheDocument();
  });

  it("updates from fleet.summary feed events without refetching", async () => {
    const fetch = mockFetch({
      "GET /admin/fleet/summary": () => summary,
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
    });
    signIn();
    const { feed, emit } = testFeed();
    renderPage(<OverviewPage />, { feed });
    expect(await screen.findByTestId("stat-online")).toHaveTextContent("100");
    const calls = fetch.mock.calls.length;
    act(() => emit("fleet.summary", { ...summary, online: 99, offline: 16, alerting: 8 }));
    await waitFor(() => expect(screen.getByTestId("stat-online")).toHaveTextContent("99"));
    expect(screen.getByTestId("stat-alerting")).toHaveTextContent("8");
    expect(screen.getByTestId("stat-offline")).toHaveTextContent("16");
    expect(fetch.mock.calls.length).toBe(calls);
  });

  it("shows an error state when the summary fails", async () => {
    mockFetch({
      "GET /admin/fleet/summary": () => jsonResponse({ error: "unavailable", message: "store down" }, 503),
      "GET /admin/alerts": () => ({ items: [], next_cursor: null }),
    });
    signIn();
    renderPage(<OverviewPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("store down");
  });
});

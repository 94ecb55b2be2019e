import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "@/lib/api";
import { useFeedEvent } from "@/lib/ws";
import { fleetSummarySchema, openAlertsSchema } from "@/features/overview/schema";

export const overviewKeys = {
  summary: ["fleet", "summary"] as const,
  openAlerts: ["alerts", "open-count"] as const,
};

export const OPEN_ALERTS_LIMIT = 500;

export function useFleetSummary() {
  return useQuery({
    queryKey: overviewKeys.summary,
    queryFn: ({ signal }) => api("/admin/fleet/summary", fleetSummarySchema, { signal }),
  });
}

export function useOpenAlerts() {
  return useQuery({
    queryKey: overviewKeys.openAlerts,
    queryFn: ({ signal }) =>
      api("/admin/alerts", openAlertsSchema, { query: { status: "open", limit: OPEN_ALERTS_LIMIT }, signal }),
  });
}

/** The feed pushes the summary after auth and every 5 s; alert events change the open count. */
export function useOverviewLive() {
  const qc = useQueryClient();
  useFeedEvent("fleet.summary", (e) => {
    const s = fleetSummarySchema.safeParse(e.data);
    if (s.success) qc.setQueryData(overviewKeys.summary, s.data);
  });
  useFeedEvent(["alert.fired", "alert.resolved"], () => {
    void qc.invalidateQueries({ queryKey: overviewKeys.openAlerts });
  });
}

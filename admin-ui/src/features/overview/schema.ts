import { z } from "zod";

export const batteryBands = ["0-14", "15-29", "30-59", "60-100"] as const;

/** GET /admin/fleet/summary, and the feed's `fleet.summary` data. */
export const fleetSummarySchema = z.object({
  at: z.string(),
  total: z.number().int(),
  online: z.number().int(),
  offline: z.number().int(),
  never: z.number().int(),
  alerting: z.number().int(),
  battery: z.object({
    bands: z.array(z.object({ band: z.enum(batteryBands), count: z.number().int() })),
    unknown: z.number().int(),
    charging: z.number().int(),
    low: z.number().int(),
  }),
  agent_versions: z.array(z.object({ version: z.string(), count: z.number().int() })),
  monitoring: z.object({ monitored: z.number().int(), services_down: z.number().int() }),
});
export type FleetSummary = z.infer<typeof fleetSummarySchema>;

/** GET /admin/alerts?status=open: only what the overview counts. */
export const openAlertsSchema = z.object({
  items: z.array(z.object({ id: z.string(), severity: z.string(), rule: z.string() })),
  next_cursor: z.string().nullable(),
});
export type OpenAlerts = z.infer<typeof openAlertsSchema>;

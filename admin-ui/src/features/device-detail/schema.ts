import { z } from "zod";
import { deviceSchema, serviceSchema } from "@/features/devices/schema";

export const monitoringSettingsSchema = z.object({
  device_id: z.string(),
  monitored_package: z.string(),
  display_name: z.string(),
  threshold_min: z.number().int(),
  enabled: z.boolean(),
  auto_remediate: z.boolean(),
});

/** GET/PATCH /admin/devices/{id}/monitoring. */
export const monitoringSchema = monitoringSettingsSchema.extend({ service: serviceSchema.nullable() });
export type Monitoring = z.infer<typeof monitoringSchema>;

/** The form; limits as in MonitoringPatch. */
export const monitoringFormSchema = z
  .object({
    monitored_package: z
      .string()
      .trim()
      .max(255)
      .regex(/^$|^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$/, "An Android package name such as com.example.app, or empty"),
    display_name: z.string().trim().max(64, "At most 64 characters"),
    threshold_min: z.coerce.number().int("A whole number of minutes").min(1, "At least 1 minute").max(120, "At most 120 minutes"),
    enabled: z.boolean(),
    auto_remediate: z.boolean(),
  })
  .refine((v) => !v.enabled || v.monitored_package !== "", {
    path: ["enabled"],
    message: "Monitoring needs a package",
  });
export type MonitoringForm = z.infer<typeof monitoringFormSchema>;

export const liveStatusSchema = z.object({
  ts: z.string(),
  received_at: z.string(),
  battery_pct: z.number().int().optional(),
  charging: z.boolean().optional(),
  ram_used_mb: z.number().int().optional(),
  ram_total_mb: z.number().int().optional(),
  uptime_s: z.number().int().optional(),
  net_type: z.string().optional(),
  ssid: z.string().optional(),
  signal_dbm: z.number().int().optional(),
  agent_version: z.string().optional(),
  agent_version_code: z.number().int().optional(),
  foreground_pkg: z.string().optional(),
  power_ok: z.boolean().optional(),
  doze_whitelisted: z.boolean().optional(),
  net_validated: z.boolean().optional(),
  queue_depth: z.number().int().optional(),
});
export type LiveStatus = z.infer<typeof liveStatusSchema>;

/** GET /admin/devices/{id}. */
export const deviceDetailSchema = deviceSchema.extend({
  enrollment: z.object({
    manufacturer: z.string(),
    android_version: z.string(),
    sdk_int: z.number().int(),
    agent_version: z.string(),
    agent_version_code: z.number().int(),
    fcm_registered: z.boolean(),
    hmac_key_id: z.string(),
    token_rotated_at: z.string(),
  }),
  live: liveStatusSchema.nullable(),
  monitoring: monitoringSettingsSchema,
});
export type DeviceDetail = z.infer<typeof deviceDetailSchema>;

export const historyPointSchema = z.object({
  at: z.string(),
  samples: z.number().int(),
  battery_avg: z.number().nullable(),
  battery_min: z.number().int().nullable(),
  battery_max: z.number().int().nullable(),
  charging: z.boolean().nullable(),
  ram_used_avg_mb: z.number().nullable(),
  ram_total_mb: z.number().int().nullable(),
  signal_avg_dbm: z.number().nullable(),
});
export const historySchema = z.object({
  device_id: z.string(),
  from: z.string(),
  to: z.string(),
  step_s: z.number().int(),
  points: z.array(historyPointSchema),
});
export type History = z.infer<typeof historySchema>;

export const alertSchema = z.object({
  id: z.string(),
  device_id: z.string().nullable(),
  rule: z.string(),
  severity: z.enum(["info", "warning", "critical"]),
  details: z.record(z.string(), z.unknown()).nullable(),
  notified: z.boolean(),
  fired_at: z.string(),
  resolved_at: z.string().nullable(),
  acknowledged_at: z.string().nullable(),
  acknowledged_by: z.string().nullable(),
  remediation_attempts: z.number().int(),
  last_remediation_at: z.string().nullable(),
  remediated: z.boolean().nullable(),
});
export type Alert = z.infer<typeof alertSchema>;
export const alertPageSchema = z.object({ items: z.array(alertSchema), next_cursor: z.string().nullable() });

export const historyRanges = [
  { id: "1h", label: "1 hour", ms: 3_600_000 },
  { id: "6h", label: "6 hours", ms: 6 * 3_600_000 },
  { id: "24h", label: "24 hours", ms: 24 * 3_600_000 },
  { id: "7d", label: "7 days", ms: 7 * 24 * 3_600_000 },
] as const;
export type HistoryRange = (typeof historyRanges)[number]["id"];

import { z } from "zod";

export const presenceSchema = z.enum(["online", "offline", "never"]);
export type Presence = z.infer<typeof presenceSchema>;

export const serviceSchema = z.object({
  package: z.string(),
  display_name: z.string(),
  enabled: z.boolean(),
  threshold_min: z.number().int(),
  last_foreground: z.string().nullable(),
  down: z.boolean(),
});
export type Service = z.infer<typeof serviceSchema>;

/** A row of GET /admin/devices, and a new or re-described device in `device.status` feed events. */
export const deviceSchema = z.object({
  id: z.string(),
  alias: z.string(),
  serial: z.string(),
  model: z.string(),
  status: presenceSchema,
  last_seen: z.string().nullable(),
  battery_pct: z.number().int().nullable(),
  charging: z.boolean(),
  agent_version: z.string(),
  enrolled_at: z.string(),
  service: serviceSchema.nullable(),
});
export type Device = z.infer<typeof deviceSchema>;

/**
 * A `device.status` element for a device a heartbeat changed: its id and
 * last_seen, and only the fields that moved.
 */
export const devicePatchSchema = deviceSchema
  .pick({ status: true, battery_pct: true, charging: true, agent_version: true, service: true })
  .partial()
  .extend({ id: z.string(), last_seen: z.string().nullable() });
export type DevicePatch = z.infer<typeof devicePatchSchema>;

/** A `device.status` element: a whole row, or a patch to one. */
export const deviceChangeSchema = z.union([deviceSchema, devicePatchSchema]);
export type DeviceChange = z.infer<typeof deviceChangeSchema>;

export function isWholeRow(c: DeviceChange): c is Device {
  return "enrolled_at" in c;
}

export const devicePageSchema = z.object({
  devices: z.array(deviceSchema),
  total: z.number().int(),
  next_cursor: z.string().nullable(),
});
export type DevicePage = z.infer<typeof devicePageSchema>;

/** `device.online` / `device.offline` elements. */
export const presenceChangeSchema = z.object({
  device_id: z.string(),
  at: z.string(),
  last_seen: z.string().optional(),
});
export type PresenceChange = z.infer<typeof presenceChangeSchema>;

export const sortFields = ["last_seen", "alias", "serial", "battery", "enrolled_at", "agent_version"] as const;
export type SortField = (typeof sortFields)[number];
export type SortOrder = "asc" | "desc";

/** The listing's filters (GET /admin/devices query; DeviceFilter as a body). */
export interface DeviceFilter {
  q?: string;
  status?: Presence;
  agent_version?: string;
  battery_below?: number;
  service_down?: boolean;
}

export interface DeviceListParams extends DeviceFilter {
  sort: SortField;
  order: SortOrder;
}

/** Default order: desc for last_seen, asc otherwise (as the server). */
export function defaultOrder(sort: SortField): SortOrder {
  return sort === "last_seen" ? "desc" : "asc";
}

export const selectionSchema = z.object({
  selection_id: z.string(),
  count: z.number().int(),
  expires_at: z.string(),
  confirm: z.string(),
});
export type Selection = z.infer<typeof selectionSchema>;

export const jobStartedSchema = z.object({ job_id: z.string(), status: z.string(), total: z.number().int() });

export const jobSchema = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.enum(["deleting", "purging", "succeeded", "failed"]),
  total: z.number().int(),
  deleted: z.number().int(),
  purge_history: z.boolean(),
  partitions_purged: z.array(z.string()).nullable(),
  rows_purged: z.number().int(),
  error: z.string(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  finished_at: z.string().nullable(),
});
export type Job = z.infer<typeof jobSchema>;

/** Does `d` match the listing's filters? Used to place devices that appear live. */
export function matchesFilter(d: Device, f: DeviceFilter): boolean {
  if (f.status && d.status !== f.status) return false;
  if (f.agent_version && d.agent_version !== f.agent_version) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (!d.alias.toLowerCase().includes(q) && !d.serial.toLowerCase().includes(q)) return false;
  }
  if (f.battery_below && (d.battery_pct === null || d.battery_pct >= f.battery_below)) return false;
  if (f.service_down && !d.service?.down) return false;
  return true;
}

import { z } from "zod";

export const RELEASE_STATUSES = ["draft", "active", "paused", "superseded", "rolled_back"] as const;
export type ReleaseStatus = (typeof RELEASE_STATUSES)[number];

export const releaseSchema = z.object({
  id: z.string(),
  build_id: z.string(),
  channel: z.string(),
  status: z.enum(RELEASE_STATUSES),
  rollout_percent: z.number().int(),
  wifi_only: z.boolean(),
  min_battery_pct: z.number().int(),
  not_in_call: z.boolean(),
  failure_threshold_pct: z.number().int(),
  failure_min_devices: z.number().int(),
  rollback_of: z.string().nullable(),
  allow_downgrade: z.boolean(),
  paused_reason: z.string(),
  created_by: z.string(),
  created_at: z.string(),
  promoted_at: z.string().nullable(),
  updated_at: z.string(),
  package: z.string(),
  version_code: z.number().int(),
  version_name: z.string(),
});
export type Release = z.infer<typeof releaseSchema>;
export const releaseListSchema = z.object({ items: z.array(releaseSchema) });

export const rollbackSchema = z.object({
  rolled_back: releaseSchema,
  restored: releaseSchema.nullable(),
  already_updated: z.object({
    count: z.number().int(),
    device_ids: z.array(z.string()).nullable().transform((d) => d ?? []),
    offered_previous: z.boolean(),
  }),
});
export type Rollback = z.infer<typeof rollbackSchema>;

export const ADOPTION_STEPS = [
  "offered",
  "deferred",
  "download_started",
  "downloaded",
  "verified",
  "installing",
  "installed",
  "failed",
] as const;

export const adoptionSchema = z.object({
  release_id: z.string(),
  version_code: z.number().int(),
  states: z.record(z.string(), z.number()).nullable().transform((s) => s ?? {}),
  timeline: z
    .array(z.object({ hour: z.string(), installed: z.number(), failed: z.number() }))
    .nullable()
    .transform((t) => t ?? []),
  versions: z
    .array(z.object({ version_code: z.number().int(), devices: z.number() }))
    .nullable()
    .transform((v) => v ?? []),
  version_history: z
    .array(z.object({ at: z.string(), version_code: z.number().int(), devices: z.number() }))
    .nullable()
    .transform((v) => v ?? []),
});
export type Adoption = z.infer<typeof adoptionSchema>;

const intIn = (min: number, max: number, msg: string) =>
  z.number({ error: msg }).int(msg).min(min, msg).max(max, msg);

/** POST /admin/releases */
export const createReleaseSchema = z.object({
  build_id: z.string().min(1, "Choose an uploaded build"),
  rollout_percent: intIn(1, 100, "From 1 to 100"),
  wifi_only: z.boolean(),
  min_battery_pct: intIn(0, 100, "From 0 to 100"),
  not_in_call: z.boolean(),
  failure_threshold_pct: intIn(1, 100, "From 1 to 100"),
  failure_min_devices: intIn(1, 100000, "From 1 to 100000"),
});
export type CreateRelease = z.infer<typeof createReleaseSchema>;

export const rolloutPercentSchema = intIn(1, 100, "From 1 to 100");

/** Which actions a release's status allows (persistence/pgstore/releases.go). */
export const allowed = {
  promote: (s: ReleaseStatus) => s === "draft",
  percent: (s: ReleaseStatus) => s === "draft" || s === "active" || s === "paused",
  pause: (s: ReleaseStatus) => s === "active",
  resume: (s: ReleaseStatus) => s === "paused",
  rollback: (s: ReleaseStatus) => s === "active" || s === "paused",
};

import { z } from "zod";

export const ALERT_RULES = ["offline", "low_battery", "service_down", "release_failures"] as const;
export const SEVERITIES = ["info", "warning", "critical"] as const;
export const CHANNEL_KINDS = ["discord", "webhook", "email"] as const;

export const alertRuleName = z.enum(ALERT_RULES);
export const severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severity>;
export type AlertRuleName = z.infer<typeof alertRuleName>;

export const alertSchema = z.object({
  id: z.string(),
  device_id: z.string().nullable(),
  // The list names the device; feed events do not.
  device_alias: z.string().optional(),
  // The server may grow rules; keep unknown ones rather than failing the page.
  rule: z.string(),
  severity: z.string(),
  details: z.record(z.string(), z.unknown()).nullable().catch({}),
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

export const alertPageSchema = z.object({
  items: z.array(alertSchema),
  next_cursor: z.string().nullable(),
});
export type AlertPage = z.infer<typeof alertPageSchema>;

export const alertChannelSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(CHANNEL_KINDS),
  target: z.string(),
  has_secret: z.boolean(),
  email_from: z.string().optional(),
  email_to: z.array(z.string()).optional(),
  min_severity: severity,
  enabled: z.boolean(),
});
export type AlertChannel = z.infer<typeof alertChannelSchema>;
export const alertChannelListSchema = z.object({ items: z.array(alertChannelSchema) });

export const channelNamePattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** The channel form, as typed; turned into a request by toChannelRequest. */
export const channelFormSchema = z
  .object({
    name: z.string().regex(channelNamePattern, "1-32 lowercase letters, digits, - or _, starting with a letter or digit"),
    kind: z.enum(CHANNEL_KINDS),
    url: z.string(),
    secret: z.string(),
    email_from: z.string(),
    email_to: z.string(),
    min_severity: severity,
    enabled: z.boolean(),
  })
  .superRefine((v, ctx) => {
    if (v.kind === "email") {
      if (v.email_to.trim() !== "" && splitList(v.email_to).some((a) => !a.includes("@"))) {
        ctx.addIssue({ code: "custom", path: ["email_to"], message: "List email addresses, separated by commas" });
      }
    } else if (v.url !== "" && !/^https?:\/\/[^/\s]+/.test(v.url)) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "Must be an http(s) URL" });
    }
  });
export type ChannelForm = z.infer<typeof channelFormSchema>;

export function splitList(s: string): string[] {
  return s
    .split(/[,\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

export type ChannelRequest = {
  name?: string;
  kind?: (typeof CHANNEL_KINDS)[number];
  url?: string;
  secret?: string;
  email_from?: string;
  email_to?: string[];
  min_severity?: Severity;
  enabled?: boolean;
};

export const testAlertResultsSchema = z.object({
  channels: z.array(z.object({ channel: z.string(), ok: z.boolean(), error: z.string().optional() })),
});
export type TestAlertResults = z.infer<typeof testAlertResultsSchema>;

export const alertRuleSchema = z.object({
  rule: z.string(),
  severity: severity,
  enabled: z.boolean(),
  channels: z.array(z.string()).nullable().transform((c) => c ?? []),
});
export type AlertRule = z.infer<typeof alertRuleSchema>;
export const alertRuleListSchema = z.object({ items: z.array(alertRuleSchema) });

/** Filters of GET /admin/alerts (ingress/alerts.go). */
export type AlertFilters = {
  status?: "open" | "resolved";
  severity?: Severity;
  rule?: AlertRuleName;
  device_id?: string;
};

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

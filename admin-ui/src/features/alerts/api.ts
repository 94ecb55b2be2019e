import { api } from "@/lib/api";
import {
  alertChannelListSchema,
  alertChannelSchema,
  alertPageSchema,
  alertRuleListSchema,
  alertRuleSchema,
  alertSchema,
  testAlertResultsSchema,
  type AlertFilters,
  type AlertRule,
  type ChannelRequest,
} from "./schema";

export const alertKeys = {
  lists: ["alerts", "list"] as const,
  list: (f: AlertFilters) => ["alerts", "list", f] as const,
  channels: ["alerts", "channels"] as const,
  rules: ["alerts", "rules"] as const,
};

export const ALERT_PAGE = 100;

/** GET /admin/alerts?status&severity&rule&device_id&limit&cursor (ingress/alerts.go). */
export const listAlerts = (f: AlertFilters, cursor?: string, signal?: AbortSignal) =>
  api("/admin/alerts", alertPageSchema, { query: { ...f, limit: ALERT_PAGE, cursor }, signal });

export const ackAlert = (id: string) =>
  api(`/admin/alerts/${encodeURIComponent(id)}/ack`, alertSchema, { method: "POST" });

export const sendTestAlert = () => api("/admin/alerts/test", testAlertResultsSchema, { method: "POST" });

export const listChannels = () => api("/admin/alert-channels", alertChannelListSchema).then((r) => r.items);
export const createChannel = (body: ChannelRequest) =>
  api("/admin/alert-channels", alertChannelSchema, { method: "POST", body });
export const updateChannel = (id: string, body: ChannelRequest) =>
  api(`/admin/alert-channels/${encodeURIComponent(id)}`, alertChannelSchema, { method: "PATCH", body });
export const deleteChannel = (id: string) =>
  api(`/admin/alert-channels/${encodeURIComponent(id)}`, undefined, { method: "DELETE" });

export const listRules = () => api("/admin/alert-rules", alertRuleListSchema).then((r) => r.items);
export const putRule = (r: AlertRule) =>
  api(`/admin/alert-rules/${encodeURIComponent(r.rule)}`, alertRuleSchema, {
    method: "PUT",
    body: { severity: r.severity, enabled: r.enabled, channels: r.channels },
  });

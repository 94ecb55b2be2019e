import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import { alertKeys } from "./api";
import { alertSchema, type Alert, type AlertFilters, type AlertPage } from "./schema";

/** The live feed's alert events; data is an array of Alert rows. */
export const ALERT_EVENTS = ["alert.fired", "alert.resolved", "alert.acknowledged"] as const;

export function matches(a: Alert, f: AlertFilters): boolean {
  if (f.status === "open" && a.resolved_at !== null) return false;
  if (f.status === "resolved" && a.resolved_at === null) return false;
  if (f.severity && a.severity !== f.severity) return false;
  if (f.rule && a.rule !== f.rule) return false;
  if (f.device_id && a.device_id?.toLowerCase() !== f.device_id.toLowerCase()) return false;
  return true;
}

/** The valid alerts in a feed event's data. */
export function alertsFromEvent(data: unknown): Alert[] {
  if (!Array.isArray(data)) return [];
  const out: Alert[] = [];
  for (const el of data) {
    const r = alertSchema.safeParse(el);
    if (r.success) out.push(r.data);
  }
  return out;
}

/**
 * Merges changed alerts into every cached alert list: a known alert is
 * replaced (or dropped when it no longer matches the list's filters), a new
 * one that matches goes on top. Newest first, as the server sorts.
 */
export function mergeAlerts(qc: QueryClient, changed: Alert[]) {
  if (changed.length === 0) return;
  for (const [key, data] of qc.getQueriesData<InfiniteData<AlertPage>>({ queryKey: alertKeys.lists })) {
    if (!data) continue;
    const filters = (key[2] ?? {}) as AlertFilters;
    const byId = new Map(changed.map((a) => [a.id, a]));
    const pages = data.pages.map((p) => ({
      ...p,
      items: p.items.flatMap((old) => {
        const next = byId.get(old.id);
        if (!next) return [old];
        byId.delete(old.id);
        // Feed events carry no alias: keep the one the list had.
        return matches(next, filters) ? [{ ...next, device_alias: next.device_alias ?? old.device_alias }] : [];
      }),
    }));
    // Unknown alerts join on top when they belong there; older ones (say, the
    // resolution of an alert further down the history) wait for a refetch.
    const top = pages[0]?.items[0]?.fired_at;
    const fresh = [...byId.values()]
      .filter((a) => matches(a, filters) && (top === undefined || Date.parse(a.fired_at) >= Date.parse(top)))
      .sort((a, b) => Date.parse(b.fired_at) - Date.parse(a.fired_at));
    if (fresh.length > 0 && pages[0]) pages[0] = { ...pages[0], items: [...fresh, ...pages[0].items] };
    qc.setQueryData<InfiniteData<AlertPage>>(key, { ...data, pages });
  }
}

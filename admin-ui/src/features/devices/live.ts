import { useQueryClient, type InfiniteData, type QueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { useFeedEvent } from "@/lib/ws";
import type { FeedEvent } from "@/lib/feed";
import { deviceKeys } from "@/features/devices/api";
import {
  deviceChangeSchema,
  isWholeRow,
  matchesFilter,
  presenceChangeSchema,
  type Device,
  type DeviceChange,
  type DeviceListParams,
  type DevicePage,
} from "@/features/devices/schema";

const deviceChangesSchema = z.array(deviceChangeSchema);
const presenceChangesSchema = z.array(presenceChangeSchema);

/**
 * Folds a batch of changes into every cached listing and detail: whole rows
 * replace, patches merge. Only whole rows can add a device to a listing.
 */
export function applyDeviceRows(qc: QueryClient, rows: DeviceChange[]) {
  if (rows.length === 0) return;
  const changed = new Map(rows.map((d) => [d.id, d]));

  for (const [key, data] of qc.getQueriesData<InfiniteData<DevicePage>>({ queryKey: deviceKeys.lists })) {
    if (!data) continue;
    const params = key[2] as DeviceListParams | undefined;
    const fetchedAt = qc.getQueryState(key)?.dataUpdatedAt ?? 0;
    const seen = new Set<string>();
    const pages = data.pages.map((page) => {
      let touched = false;
      const devices = page.devices.map((d) => {
        const c = changed.get(d.id);
        if (!c) return d;
        seen.add(d.id);
        touched = true;
        return { ...d, ...c };
      });
      return touched ? { ...page, devices } : page;
    });
    // Devices enrolled since this listing was fetched appear at its top.
    const fresh = rows
      .filter(isWholeRow)
      .filter(
        (d) => !seen.has(d.id) && Date.parse(d.enrolled_at) > fetchedAt - 5_000 && (!params || matchesFilter(d, params)),
      );
    const first = pages[0];
    if (fresh.length > 0 && first) {
      const known = new Set(first.devices.map((d) => d.id));
      const added = fresh.filter((d) => !known.has(d.id));
      pages[0] = { ...first, devices: [...added, ...first.devices] };
      for (let i = 0; i < pages.length; i++) pages[i] = { ...pages[i]!, total: pages[i]!.total + added.length };
    }
    qc.setQueryData(key, { ...data, pages }, { updatedAt: fetchedAt }); // keep the fetch time
  }

  for (const d of rows) {
    qc.setQueryData(deviceKeys.detail(d.id), (old: (Device & Record<string, unknown>) | undefined) =>
      old ? { ...old, ...d } : old,
    );
  }
}

/** device.online / device.offline: flip the presence of cached rows. */
export function applyPresence(qc: QueryClient, online: boolean, changes: { device_id: string; last_seen?: string }[]) {
  if (changes.length === 0) return;
  const byId = new Map(changes.map((c) => [c.device_id, c]));
  const patch = (d: Device): Device => {
    const c = byId.get(d.id);
    if (!c) return d;
    return { ...d, status: online ? "online" : "offline", last_seen: c.last_seen ?? d.last_seen };
  };
  for (const [key, data] of qc.getQueriesData<InfiniteData<DevicePage>>({ queryKey: deviceKeys.lists })) {
    if (!data) continue;
    const updatedAt = qc.getQueryState(key)?.dataUpdatedAt;
    const pages = data.pages.map((p) => ({ ...p, devices: p.devices.map(patch) }));
    qc.setQueryData(key, { ...data, pages }, { updatedAt });
  }
  for (const id of byId.keys()) {
    qc.setQueryData(deviceKeys.detail(id), (old: Device | undefined) => (old ? patch(old) : old));
  }
}

export function handleDeviceEvent(qc: QueryClient, e: FeedEvent) {
  if (e.type === "device.status") {
    const rows = deviceChangesSchema.safeParse(e.data);
    if (rows.success) applyDeviceRows(qc, rows.data);
  } else if (e.type === "device.online" || e.type === "device.offline") {
    const changes = presenceChangesSchema.safeParse(e.data);
    if (changes.success) applyPresence(qc, e.type === "device.online", changes.data);
  }
}

export const deviceFeedTypes = ["device.status", "device.online", "device.offline"] as const;

/** Keeps cached device rows live from the feed while mounted. */
export function useDevicesLive() {
  const qc = useQueryClient();
  useFeedEvent(deviceFeedTypes, (e) => handleDeviceEvent(qc, e));
}

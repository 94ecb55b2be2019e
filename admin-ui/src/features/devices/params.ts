import { useCallback, useMemo } from "react";
import { useSearchParams } from "react-router-dom";
import {
  defaultOrder,
  presenceSchema,
  sortFields,
  type DeviceListParams,
  type SortField,
  type SortOrder,
} from "@/features/devices/schema";

/**
 * Newest enrolled first. Not the server's last_seen: its cursor pages over a
 * key that changes with every heartbeat, so scrolling a live fleet sorted by
 * last_seen skips the devices that reported since the first page.
 */
const DEFAULT_SORT: SortField = "enrolled_at";
const DEFAULT_ORDER: SortOrder = "desc";

/** The listing's search, filters and sort live in the URL (shareable, back button works). */
export function useDeviceParams(): [DeviceListParams, (patch: Partial<DeviceListParams>) => void] {
  const [sp, setSp] = useSearchParams();

  const params = useMemo<DeviceListParams>(() => {
    const sortRaw = sp.get("sort");
    const known = (sortFields as readonly string[]).includes(sortRaw ?? "");
    const sort: SortField = known ? (sortRaw as SortField) : DEFAULT_SORT;
    const orderRaw = sp.get("order");
    const order: SortOrder =
      orderRaw === "asc" || orderRaw === "desc" ? orderRaw : known ? defaultOrder(sort) : DEFAULT_ORDER;
    const status = presenceSchema.safeParse(sp.get("status"));
    const battery = Number(sp.get("battery_below"));
    return {
      sort,
      order,
      q: sp.get("q") || undefined,
      status: status.success ? status.data : undefined,
      agent_version: sp.get("agent_version") || undefined,
      battery_below: Number.isInteger(battery) && battery >= 1 && battery <= 101 ? battery : undefined,
      service_down: sp.get("service_down") === "true" || undefined,
    };
  }, [sp]);

  const update = useCallback(
    (patch: Partial<DeviceListParams>) => {
      setSp(
        (prev) => {
          const next = new URLSearchParams(prev);
          for (const [k, v] of Object.entries(patch)) {
            if (v === undefined || v === "" || v === false) next.delete(k);
            else next.set(k, String(v));
          }
          return next;
        },
        { replace: true },
      );
    },
    [setSp],
  );

  return [params, update];
}

import { useCallback, useMemo, useState } from "react";
import type { DeviceFilter } from "@/features/devices/schema";

/**
 * Multi-select over a listing: explicit ids, or "everything matching the
 * filter" (all devices the server would list, loaded or not).
 */
export interface DeviceSelection {
  ids: ReadonlySet<string>;
  allMatching: boolean;
  count: (total: number) => number;
  isSelected: (id: string) => boolean;
  toggle: (id: string, loadedIds: readonly string[]) => void;
  setLoaded: (ids: readonly string[], selected: boolean) => void;
  selectAllMatching: () => void;
  clear: () => void;
  /** What to snapshot with POST /admin/devices/selection. */
  targets: (filter: DeviceFilter) => { device_ids: string[] } | { filter: DeviceFilter };
}

export function useDeviceSelection(): DeviceSelection {
  const [ids, setIds] = useState<ReadonlySet<string>>(new Set());
  const [allMatching, setAllMatching] = useState(false);

  const toggle = useCallback(
    (id: string, loadedIds: readonly string[]) => {
      if (allMatching) {
        // Leaving "all matching": keep every loaded row but this one.
        setAllMatching(false);
        setIds(new Set(loadedIds.filter((x) => x !== id)));
        return;
      }
      setIds((prev) => {
        const next = new Set(prev);
        if (next.has(id)) next.delete(id);
        else next.add(id);
        return next;
      });
    },
    [allMatching],
  );

  const setLoaded = useCallback((loaded: readonly string[], selected: boolean) => {
    setAllMatching(false);
    setIds(selected ? new Set(loaded) : new Set());
  }, []);

  const clear = useCallback(() => {
    setAllMatching(false);
    setIds(new Set());
  }, []);

  return useMemo(
    () => ({
      ids,
      allMatching,
      count: (total: number) => (allMatching ? total : ids.size),
      isSelected: (id: string) => allMatching || ids.has(id),
      toggle,
      setLoaded,
      selectAllMatching: () => setAllMatching(true),
      clear,
      targets: (filter: DeviceFilter) => (allMatching ? { filter } : { device_ids: [...ids] }),
    }),
    [ids, allMatching, toggle, setLoaded, clear],
  );
}

/** The filter part of the listing's params, as the selection body wants it. */
export function filterOf(p: DeviceFilter): DeviceFilter {
  const f: DeviceFilter = {};
  if (p.q) f.q = p.q;
  if (p.status) f.status = p.status;
  if (p.agent_version) f.agent_version = p.agent_version;
  if (p.battery_below) f.battery_below = p.battery_below;
  if (p.service_down) f.service_down = true;
  return f;
}

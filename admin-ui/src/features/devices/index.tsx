import { useCallback, useMemo, useState } from "react";
import { PageHeader, EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Button } from "@/components/ui/button";
import { useCan } from "@/lib/auth";
import { formatNumber } from "@/lib/format";
import { useDeviceList } from "@/features/devices/api";
import { useDevicesLive } from "@/features/devices/live";
import { useDeviceParams } from "@/features/devices/params";
import { defaultOrder, type Device, type SortField } from "@/features/devices/schema";
import { filterOf, useDeviceSelection } from "@/features/devices/selection";
import { BulkCommandDialog } from "@/features/devices/components/BulkCommandDialog";
import { BulkDeleteDialog } from "@/features/devices/components/BulkDeleteDialog";
import { DeviceToolbar } from "@/features/devices/components/DeviceToolbar";
import { DevicesTable } from "@/features/devices/components/DevicesTable";
import { SelectionBar } from "@/features/devices/components/SelectionBar";

export default function DevicesPage() {
  const [params, setParams] = useDeviceParams();
  const list = useDeviceList(params);
  const selection = useDeviceSelection();
  const canCommand = useCan("command");
  const canManage = useCan("manage");
  const canSelect = canCommand || canManage;
  const [dialog, setDialog] = useState<"command" | "delete" | null>(null);
  useDevicesLive();

  // Pages may overlap after live insertions: keep each device once.
  const rows = useMemo(() => {
    const seen = new Set<string>();
    const out: Device[] = [];
    for (const page of list.data?.pages ?? []) {
      for (const d of page.devices) {
        if (seen.has(d.id)) continue;
        seen.add(d.id);
        out.push(d);
      }
    }
    return out;
  }, [list.data]);
  const total = list.data?.pages[0]?.total ?? 0;
  const { fetchNextPage } = list;
  const loadMore = useCallback(() => void fetchNextPage(), [fetchNextPage]);

  const { clear } = selection;
  const update = useCallback(
    (patch: Parameters<typeof setParams>[0]) => {
      clear(); // a new filter is a new set of devices
      setParams(patch);
    },
    [setParams, clear],
  );
  const onSort = (field: SortField) =>
    setParams(
      field === params.sort
        ? { sort: field, order: params.order === "asc" ? "desc" : "asc" }
        : { sort: field, order: defaultOrder(field) },
    );

  const count = selection.count(total);
  const targets = selection.targets(filterOf(params));

  return (
    // The grid scrolls inside the viewport (header 3.5rem + main padding).
    <div className="flex h-[calc(100vh-3.5rem-2rem)] min-h-[480px] flex-col gap-3 sm:h-[calc(100vh-3.5rem-3rem)]">
      <PageHeader
        title="Devices"
        description={list.data ? `${formatNumber(total)} matching · ${formatNumber(rows.length)} loaded` : "The fleet, live."}
      />
      <DeviceToolbar params={params} onChange={update} />
      <SelectionBar
        count={count}
        loaded={rows.length}
        total={total}
        allMatching={selection.allMatching}
        allLoadedSelected={rows.length > 0 && rows.every((r) => selection.isSelected(r.id))}
        onSelectAllMatching={selection.selectAllMatching}
        onClear={selection.clear}
        onCommand={() => setDialog("command")}
        onDelete={() => setDialog("delete")}
      />
      {list.isPending ? (
        <LoadingState label="Loading devices" />
      ) : list.isError ? (
        <ErrorState error={list.error} onRetry={() => void list.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState
          title="No devices match"
          description={
            Object.keys(filterOf(params)).length > 0
              ? "Try other filters."
              : "Enroll a device from the Enrollment page; it appears here as soon as it registers."
          }
          action={
            Object.keys(filterOf(params)).length > 0 ? (
              <Button variant="outline" size="sm" onClick={() => update({ q: undefined, status: undefined, agent_version: undefined, battery_below: undefined, service_down: undefined })}>
                Clear filters
              </Button>
            ) : undefined
          }
        />
      ) : (
        <DevicesTable
          rows={rows}
          total={total}
          params={params}
          onSort={onSort}
          hasNextPage={list.hasNextPage}
          isFetchingNextPage={list.isFetchingNextPage}
          fetchNextPage={loadMore}
          selection={selection}
          selectable={canSelect}
        />
      )}
      {dialog === "command" && (
        <BulkCommandDialog open onOpenChange={(o) => !o && setDialog(null)} targets={targets} />
      )}
      {dialog === "delete" && (
        <BulkDeleteDialog open onOpenChange={(o) => !o && setDialog(null)} targets={targets} onDeleted={selection.clear} />
      )}
    </div>
  );
}

import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router-dom";
import { useVirtualizer } from "@tanstack/react-virtual";
import { ArrowDown, ArrowUp, ArrowUpDown } from "lucide-react";
import { Checkbox } from "@/components/ui/checkbox";
import { cn } from "@/lib/utils";
import type { Device, DeviceListParams, SortField } from "@/features/devices/schema";
import type { DeviceSelection } from "@/features/devices/selection";
import { DeviceRow } from "@/features/devices/components/DeviceRow";
import { columns, gridClass, ROW_HEIGHT } from "@/features/devices/components/columns";

interface DevicesTableProps {
  rows: Device[];
  total: number;
  params: DeviceListParams;
  onSort: (field: SortField) => void;
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => void;
  selection: DeviceSelection;
  selectable: boolean;
}

/**
 * The fleet as a virtualized grid: only the visible rows are in the DOM, and
 * the next page is fetched as the user nears the end. Keyboard: arrows,
 * Home/End and PageUp/PageDown move, Space selects, Enter opens the device.
 */
export function DevicesTable(props: DevicesTableProps) {
  const { rows, total, params, onSort, hasNextPage, isFetchingNextPage, fetchNextPage, selection, selectable } = props;
  const scrollRef = useRef<HTMLDivElement>(null);
  const [focusIndex, setFocusIndex] = useState(0);
  const navigate = useNavigate();

  const virtualizer = useVirtualizer({
    count: rows.length + (hasNextPage ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    initialRect: { width: 1024, height: 600 },
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length > 0 ? items[items.length - 1]!.index : -1;
  // Roving tabindex: the focused row, or the first visible one when it scrolled away.
  const tabbable = items.some((i) => i.index === focusIndex) ? focusIndex : (items[0]?.index ?? 0);

  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && lastIndex >= rows.length - 25) fetchNextPage();
  }, [lastIndex, rows.length, hasNextPage, isFetchingNextPage, fetchNextPage]);

  const loadedIds = useRef<string[]>([]);
  loadedIds.current = rows.map((r) => r.id);
  const onToggle = useCallback((id: string) => selection.toggle(id, loadedIds.current), [selection]);

  const focusRow = (i: number) => {
    const idx = Math.max(0, Math.min(rows.length - 1, i));
    setFocusIndex(idx);
    virtualizer.scrollToIndex(idx);
    requestAnimationFrame(() => {
      scrollRef.current?.querySelector<HTMLElement>(`[data-row-index="${idx}"]`)?.focus();
    });
  };

  const onKeyDown = (e: React.KeyboardEvent) => {
    if (!(e.target instanceof HTMLElement) || e.target.getAttribute("role") !== "row") return;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 600) / ROW_HEIGHT) - 1);
    const moves: Record<string, number> = {
      ArrowDown: focusIndex + 1,
      ArrowUp: focusIndex - 1,
      PageDown: focusIndex + page,
      PageUp: focusIndex - page,
      Home: 0,
      End: rows.length - 1,
    };
    const row = rows[focusIndex];
    if (e.key in moves) {
      e.preventDefault();
      focusRow(moves[e.key]!);
    } else if (e.key === " " && selectable && row) {
      e.preventDefault();
      onToggle(row.id);
    } else if (e.key === "Enter" && row) {
      e.preventDefault();
      navigate(`/devices/${row.id}`);
    }
  };

  const loadedAll = rows.length > 0 && rows.every((r) => selection.isSelected(r.id));
  const someLoaded = rows.some((r) => selection.isSelected(r.id));

  return (
    <div
      role="grid"
      aria-label="Devices"
      aria-rowcount={total + 1}
      aria-multiselectable={selectable || undefined}
      className="flex min-h-0 flex-1 flex-col overflow-hidden rounded-lg border"
    >
      <div role="rowgroup" className="border-b bg-muted/40">
        <div role="row" aria-rowindex={1} className={cn(gridClass, "h-10 items-center px-1 text-xs font-medium text-muted-foreground")}>
          <div role="columnheader" className="flex justify-center">
            {selectable && (
              <Checkbox
                checked={loadedAll ? true : someLoaded ? "indeterminate" : false}
                onCheckedChange={(c) => selection.setLoaded(loadedIds.current, c === true)}
                aria-label="Select all loaded devices"
              />
            )}
          </div>
          {columns.map((c) => {
            const active = c.sort === params.sort;
            const sortState = active ? (params.order === "asc" ? "ascending" : "descending") : "none";
            return (
              <div
                key={c.id}
                role="columnheader"
                aria-sort={c.sort ? sortState : undefined}
                className={cn(c.wide && "hidden xl:block", "min-w-0")}
              >
                {c.sort ? (
                  <button
                    type="button"
                    onClick={() => onSort(c.sort!)}
                    className="inline-flex items-center gap-1 rounded px-1 hover:text-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
                  >
                    {c.label}
                    {active ? (
                      params.order === "asc" ? <ArrowUp className="size-3" aria-hidden /> : <ArrowDown className="size-3" aria-hidden />
                    ) : (
                      <ArrowUpDown className="size-3 opacity-50" aria-hidden />
                    )}
                  </button>
                ) : (
                  <span className="px-1">{c.label}</span>
                )}
              </div>
            );
          })}
        </div>
      </div>
      <div ref={scrollRef} className="min-h-0 flex-1 overflow-auto" onKeyDown={onKeyDown} data-testid="devices-scroll">
        <div role="rowgroup" className="relative w-full" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const d = rows[item.index];
            if (!d) {
              return (
                <div
                  key="loader"
                  role="row"
                  className="absolute left-0 right-0 flex items-center justify-center text-xs text-muted-foreground"
                  style={{ height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
                >
                  <div role="gridcell">Loading more devices…</div>
                </div>
              );
            }
            return (
              <DeviceRow
                key={d.id}
                device={d}
                index={item.index}
                top={item.start}
                selected={selection.isSelected(d.id)}
                focused={item.index === tabbable}
                selectable={selectable}
                onToggle={onToggle}
                onFocusRow={setFocusIndex}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

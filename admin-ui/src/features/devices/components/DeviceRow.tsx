import { memo } from "react";
import { Link } from "react-router-dom";
import { Checkbox } from "@/components/ui/checkbox";
import { formatDateTime, timeAgo } from "@/lib/format";
import { cn } from "@/lib/utils";
import type { Device } from "@/features/devices/schema";
import { BatteryCell } from "@/features/devices/components/BatteryCell";
import { StatusDot } from "@/features/devices/components/StatusDot";
import { gridClass, ROW_HEIGHT } from "@/features/devices/components/columns";

interface DeviceRowProps {
  device: Device;
  index: number;
  top: number;
  selected: boolean;
  focused: boolean;
  selectable: boolean;
  onToggle: (id: string) => void;
  onFocusRow: (index: number) => void;
}

export const DeviceRow = memo(function DeviceRow({
  device: d,
  index,
  top,
  selected,
  focused,
  selectable,
  onToggle,
  onFocusRow,
}: DeviceRowProps) {
  const name = d.alias || d.serial;
  return (
    <div
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selectable ? selected : undefined}
      tabIndex={focused ? 0 : -1}
      data-row-index={index}
      data-testid="device-row"
      data-device-id={d.id}
      onFocus={() => onFocusRow(index)}
      className={cn(
        gridClass,
        "absolute left-0 right-0 items-center border-b px-1 text-sm outline-none hover:bg-muted/50 focus-visible:bg-accent focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-ring",
        selected && "bg-primary/5",
      )}
      style={{ height: ROW_HEIGHT, transform: `translateY(${top}px)` }}
    >
      <div role="gridcell" className="flex justify-center">
        {selectable && (
          <Checkbox
            checked={selected}
            onCheckedChange={() => onToggle(d.id)}
            aria-label={`Select ${name}`}
            tabIndex={-1}
          />
        )}
      </div>
      <div role="gridcell">
        <StatusDot status={d.status} />
      </div>
      <div role="gridcell" className="min-w-0 truncate">
        <Link to={`/devices/${d.id}`} tabIndex={-1} className="font-medium hover:underline">
          {name}
        </Link>
        <span className="ml-2 text-xs text-muted-foreground xl:hidden">{d.alias ? d.serial : ""}</span>
      </div>
      <div role="gridcell" className="hidden min-w-0 truncate font-mono text-xs xl:block">
        {d.serial}
      </div>
      <div role="gridcell" className="hidden min-w-0 truncate xl:block">
        {d.model}
      </div>
      <div role="gridcell">
        <BatteryCell pct={d.battery_pct} charging={d.charging} />
      </div>
      <div role="gridcell" className="truncate font-mono text-xs">
        {d.agent_version || "—"}
      </div>
      <div role="gridcell" className="truncate text-xs" title={d.last_seen ?? "never"}>
        {timeAgo(d.last_seen)}
      </div>
      <div role="gridcell" className="hidden truncate text-xs xl:block" title={formatDateTime(d.enrolled_at)}>
        {timeAgo(d.enrolled_at)}
      </div>
      <div role="gridcell" className="hidden min-w-0 truncate text-xs xl:block">
        {d.service ? (
          <span className={cn(d.service.down && "font-medium text-destructive")}>
            {d.service.display_name || d.service.package}
            {d.service.down ? " — down" : d.service.enabled ? "" : " (off)"}
          </span>
        ) : (
          <span className="text-muted-foreground">—</span>
        )}
      </div>
    </div>
  );
});

import { BatteryCharging, BatteryFull, BatteryLow, BatteryMedium, BatteryWarning } from "lucide-react";
import { cn } from "@/lib/utils";

export function BatteryCell({ pct, charging }: { pct: number | null; charging: boolean }) {
  const Icon =
    pct === null ? BatteryWarning : charging ? BatteryCharging : pct < 15 ? BatteryLow : pct < 60 ? BatteryMedium : BatteryFull;
  const label = pct === null ? "Battery unknown" : `Battery ${pct}%${charging ? ", charging" : ""}`;
  return (
    <span
      className={cn("inline-flex items-center gap-1 tabular-nums", pct !== null && pct < 15 && !charging && "text-destructive")}
      data-testid="device-battery"
      data-battery={pct ?? ""}
      aria-label={label}
      title={label}
    >
      <Icon className="size-4 shrink-0" aria-hidden />
      {pct === null ? "—" : `${pct}%`}
    </span>
  );
}

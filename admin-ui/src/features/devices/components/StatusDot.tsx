import { cn } from "@/lib/utils";
import type { Presence } from "@/features/devices/schema";

const color: Record<Presence, string> = {
  online: "bg-success",
  offline: "bg-destructive",
  never: "bg-muted-foreground/60",
};

/** Presence as a dot with its word (never colour alone). */
export function StatusDot({ status, className }: { status: Presence; className?: string }) {
  return (
    <span className={cn("inline-flex items-center gap-1.5", className)} data-testid="device-status" data-status={status}>
      <span aria-hidden className={cn("size-2.5 shrink-0 rounded-full", color[status])} />
      <span className="text-xs capitalize">{status}</span>
    </span>
  );
}

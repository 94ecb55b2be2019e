import { cn } from "@/lib/utils";
import { useFeedStatus } from "@/lib/ws";

const labels = { idle: "Offline", connecting: "Connecting", live: "Live", reconnecting: "Reconnecting" } as const;

/** The live feed's connection state. */
export function FeedIndicator() {
  const status = useFeedStatus();
  return (
    <span
      className="inline-flex items-center gap-1.5 text-xs text-muted-foreground"
      role="status"
      aria-live="polite"
      data-testid="feed-status"
      data-status={status}
    >
      <span
        aria-hidden
        className={cn(
          "size-2 rounded-full",
          status === "live" ? "bg-success" : status === "idle" ? "bg-muted-foreground" : "animate-pulse bg-warning",
        )}
      />
      {labels[status]}
    </span>
  );
}

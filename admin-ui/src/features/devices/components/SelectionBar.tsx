import { Send, Trash2, X } from "lucide-react";
import { Button } from "@/components/ui/button";
import { formatNumber } from "@/lib/format";
import { useCan } from "@/lib/auth";

interface SelectionBarProps {
  count: number;
  loaded: number;
  total: number;
  allMatching: boolean;
  allLoadedSelected: boolean;
  onSelectAllMatching: () => void;
  onClear: () => void;
  onCommand: () => void;
  onDelete: () => void;
}

/** What is selected, "select all matching", and the bulk actions the role allows. */
export function SelectionBar(p: SelectionBarProps) {
  const canCommand = useCan("command");
  const canManage = useCan("manage");
  if (p.count === 0) return null;
  return (
    <div
      role="region"
      aria-label="Selection"
      className="flex flex-wrap items-center gap-2 rounded-lg border bg-primary/5 px-3 py-2 text-sm"
    >
      <span data-testid="selection-count">
        <strong>{formatNumber(p.count)}</strong> selected{p.allMatching && " (all matching)"}
      </span>
      {!p.allMatching && p.allLoadedSelected && p.total > p.loaded && (
        <Button variant="link" size="sm" onClick={p.onSelectAllMatching}>
          Select all {formatNumber(p.total)} matching
        </Button>
      )}
      <div className="flex-1" />
      {canCommand && (
        <Button size="sm" onClick={p.onCommand}>
          <Send aria-hidden /> Send command
        </Button>
      )}
      {canManage && (
        <Button size="sm" variant="destructive" onClick={p.onDelete}>
          <Trash2 aria-hidden /> Delete
        </Button>
      )}
      <Button size="sm" variant="ghost" onClick={p.onClear} aria-label="Clear selection">
        <X aria-hidden />
      </Button>
    </div>
  );
}

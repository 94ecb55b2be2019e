import { useEffect, useId, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Loader2, Trash2 } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import {
  Dialog,
  DialogContent,
  DialogDescription,
  DialogFooter,
  DialogHeader,
  DialogTitle,
} from "@/components/ui/dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { LoadingState } from "@/components/states";
import { formatNumber } from "@/lib/format";
import { deviceKeys, useBulkDelete, useCreateSelection } from "@/features/devices/api";
import type { DeviceFilter } from "@/features/devices/schema";
import { JobProgress } from "@/features/devices/components/JobProgress";

interface BulkDeleteDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  targets: { device_ids: string[] } | { filter: DeviceFilter };
  onDeleted: () => void;
}

/**
 * Type-to-confirm bulk delete: snapshots the targets (POST /admin/devices/selection),
 * shows the count, needs the selection's confirm text typed exactly, then
 * follows the job (ingress/bulk_delete.go).
 */
export function BulkDeleteDialog({ open, onOpenChange, targets, onDeleted }: BulkDeleteDialogProps) {
  const id = useId();
  const qc = useQueryClient();
  const selection = useCreateSelection();
  const bulkDelete = useBulkDelete();
  const [typed, setTyped] = useState("");
  const [purge, setPurge] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);
  const { mutate: select, reset: resetSelection } = selection;

  useEffect(() => {
    if (!open) return;
    setTyped("");
    setPurge(false);
    setJobId(null);
    bulkDelete.reset();
    select(targets);
    return () => resetSelection();
    // Snapshot once per opening.
  }, [open]);

  const sel = selection.data;
  const matches = !!sel && typed === sel.confirm;

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (!sel || !matches) return;
    bulkDelete.mutate(
      { selection_id: sel.selection_id, confirm: typed, purge_history: purge },
      { onSuccess: (job) => setJobId(job.job_id) },
    );
  };

  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent aria-describedby={`${id}-desc`}>
        <DialogHeader>
          <DialogTitle>Delete devices</DialogTitle>
          <DialogDescription id={`${id}-desc`}>
            Deleted devices are unenrolled: their tokens are revoked and their next heartbeat is refused. This cannot be undone.
          </DialogDescription>
        </DialogHeader>
        {jobId ? (
          <>
            <JobProgress
              jobId={jobId}
              onDone={() => {
                void qc.invalidateQueries({ queryKey: deviceKeys.lists });
                onDeleted();
              }}
            />
            <DialogFooter>
              <Button variant="outline" onClick={() => onOpenChange(false)}>
                Close
              </Button>
            </DialogFooter>
          </>
        ) : selection.isPending || !sel ? (
          selection.isError ? (
            <p role="alert" className="text-sm text-destructive">
              {selection.error.message}
            </p>
          ) : (
            <LoadingState label="Counting the devices" />
          )
        ) : (
          <form onSubmit={submit} className="grid gap-4">
            <p className="text-sm">
              <strong data-testid="bulk-delete-count">{formatNumber(sel.count)}</strong> device{sel.count === 1 ? "" : "s"} will be
              deleted.
            </p>
            <div className="grid gap-1.5">
              <Label htmlFor={`${id}-confirm`}>
                Type <code className="rounded bg-muted px-1 font-mono">{sel.confirm}</code> to confirm
              </Label>
              <Input
                id={`${id}-confirm`}
                autoComplete="off"
                spellCheck={false}
                value={typed}
                onChange={(e) => setTyped(e.target.value)}
                autoFocus
              />
            </div>
            <div className="flex items-start gap-2">
              <Checkbox id={`${id}-purge`} checked={purge} onCheckedChange={(c) => setPurge(c === true)} />
              <div className="grid gap-1">
                <Label htmlFor={`${id}-purge`}>Purge history</Label>
                <p className="text-xs text-muted-foreground">Also delete the devices' heartbeat history.</p>
              </div>
            </div>
            <DialogFooter>
              <Button type="button" variant="outline" onClick={() => onOpenChange(false)}>
                Cancel
              </Button>
              <Button type="submit" variant="destructive" disabled={!matches || bulkDelete.isPending || sel.count === 0}>
                {bulkDelete.isPending ? <Loader2 className="animate-spin" aria-hidden /> : <Trash2 aria-hidden />}
                Delete {formatNumber(sel.count)}
              </Button>
            </DialogFooter>
          </form>
        )}
      </DialogContent>
    </Dialog>
  );
}

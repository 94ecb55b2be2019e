import { useEffect, useState } from "react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { LoadingState } from "@/components/states";
import { formatNumber } from "@/lib/format";
import { useSendBulkCommand } from "@/features/commands/api";
import { CommandForm } from "@/features/commands/components/CommandForm";
import { useCreateSelection } from "@/features/devices/api";
import type { DeviceFilter } from "@/features/devices/schema";
import { BulkCommandTally } from "@/features/devices/components/BulkCommandTally";

/** The server sends one command to at most this many devices (too_many_targets). */
export const MAX_BULK_COMMAND_TARGETS = 10_000;

interface BulkCommandDialogProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  targets: { device_ids: string[] } | { filter: DeviceFilter };
}

/** Snapshot the targets, pick a command, send it to all of them, then watch the outcomes live. */
export function BulkCommandDialog({ open, onOpenChange, targets }: BulkCommandDialogProps) {
  const selection = useCreateSelection();
  const send = useSendBulkCommand();
  const [commandIds, setCommandIds] = useState<string[] | null>(null);
  const { mutate: select } = selection;

  useEffect(() => {
    if (!open) return;
    setCommandIds(null);
    send.reset();
    select(targets);
    // Snapshot once per opening.
  }, [open]);

  const sel = selection.data;
  const tooMany = !!sel && sel.count > MAX_BULK_COMMAND_TARGETS;

  return (
    <Dialog open={open} onOpenChange={onOpenChange}>
      <DialogContent>
        <DialogHeader>
          <DialogTitle>Send a command</DialogTitle>
          <DialogDescription>
            {sel ? (
              <>
                To <strong data-testid="bulk-command-count">{formatNumber(sel.count)}</strong> device{sel.count === 1 ? "" : "s"}. Each gets
                its own signed command.
              </>
            ) : (
              "Counting the devices…"
            )}
          </DialogDescription>
        </DialogHeader>
        {commandIds ? (
          <>
            <BulkCommandTally commandIds={commandIds} />
            <DialogFooter>
              <Button variant="outline" onClick={() => onOpenChange(false)}>
                Close
              </Button>
            </DialogFooter>
          </>
        ) : !sel ? (
          selection.isError ? (
            <p role="alert" className="text-sm text-destructive">
              {selection.error.message}
            </p>
          ) : (
            <LoadingState label="Counting the devices" />
          )
        ) : tooMany ? (
          <p role="alert" className="text-sm text-destructive">
            A command can go to at most {formatNumber(MAX_BULK_COMMAND_TARGETS)} devices at once. Narrow the selection.
          </p>
        ) : (
          <CommandForm
            pending={send.isPending}
            submitLabel={`Send to ${formatNumber(sel.count)}`}
            onSubmit={(c) =>
              send.mutate({ ...c, selection_id: sel.selection_id }, { onSuccess: (a) => setCommandIds(a.command_ids) })
            }
          />
        )}
      </DialogContent>
    </Dialog>
  );
}

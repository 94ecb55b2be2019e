import { Dialog, DialogContent, DialogDescription, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { ErrorState, LoadingState } from "@/components/states";
import { formatDateTime } from "@/lib/format";
import { useCommand } from "@/features/commands/api";
import { CommandStatusBadge } from "@/features/commands/components/CommandStatusBadge";

/** One command with every transition and the device's result (GET /admin/commands/{id}). */
export function CommandDetailDialog({ commandId, onClose }: { commandId: string | null; onClose: () => void }) {
  const cmd = useCommand(commandId);
  return (
    <Dialog open={!!commandId} onOpenChange={(o) => !o && onClose()}>
      <DialogContent className="max-w-2xl">
        <DialogHeader>
          <DialogTitle>Command {cmd.data?.type ?? ""}</DialogTitle>
          <DialogDescription>{cmd.data ? `Sent by ${cmd.data.created_by}, expires ${formatDateTime(cmd.data.expires_at)}` : "Loading…"}</DialogDescription>
        </DialogHeader>
        {cmd.isPending ? (
          <LoadingState />
        ) : cmd.isError ? (
          <ErrorState error={cmd.error} onRetry={() => void cmd.refetch()} />
        ) : (
          <div className="grid gap-3 text-sm">
            <div className="flex items-center gap-2">
              Status <CommandStatusBadge status={cmd.data.status} />
            </div>
            <pre className="overflow-auto rounded bg-muted p-2 font-mono text-xs">{JSON.stringify(cmd.data.params ?? {}, null, 2)}</pre>
            <section aria-label="Transitions">
              <h3 className="mb-1 font-medium">Lifecycle</h3>
              <ol className="grid gap-1">
                {(cmd.data.events ?? []).map((e, i) => (
                  <li key={i} className="flex gap-2">
                    <span className="w-44 shrink-0 text-muted-foreground">{formatDateTime(e.at)}</span>
                    <span className="font-medium">{e.status}</span>
                    {e.detail && <span className="text-muted-foreground">{e.detail}</span>}
                  </li>
                ))}
              </ol>
            </section>
            {cmd.data.result && (
              <section aria-label="Result">
                <h3 className="mb-1 font-medium">Result</h3>
                <p>{cmd.data.result.message}</p>
                {cmd.data.result.output && (
                  <pre className="mt-1 max-h-64 overflow-auto rounded bg-muted p-2 font-mono text-xs">{cmd.data.result.output}</pre>
                )}
              </section>
            )}
          </div>
        )}
      </DialogContent>
    </Dialog>
  );
}

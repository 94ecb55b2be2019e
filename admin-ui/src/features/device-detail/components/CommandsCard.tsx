import { useState } from "react";
import { useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { useCan } from "@/lib/auth";
import { timeAgo } from "@/lib/format";
import { commandKeys, useDeviceCommands, useSendCommand } from "@/features/commands/api";
import { CommandForm } from "@/features/commands/components/CommandForm";
import { CommandStatusBadge } from "@/features/commands/components/CommandStatusBadge";
import type { Command, CommandPage } from "@/features/commands/schema";
import { CommandDetailDialog } from "@/features/device-detail/components/CommandDetailDialog";
import { useDeviceCommandsLive } from "@/features/device-detail/components/commandLive";

function paramsText(c: Command): string {
  const entries = Object.entries(c.params ?? {});
  return entries.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
}

/** Send a command, and the device's command history with each status live. */
export function CommandsCard({ deviceId }: { deviceId: string }) {
  const qc = useQueryClient();
  const canCommand = useCan("command");
  const send = useSendCommand(deviceId);
  const history = useDeviceCommands(deviceId);
  const [open, setOpen] = useState<string | null>(null);
  useDeviceCommandsLive(deviceId);

  const onSent = (cmd: Command) => {
    toast.success(`${cmd.type} queued`);
    qc.setQueryData<InfiniteData<CommandPage>>(commandKeys.forDevice(deviceId), (old) => {
      if (!old || !old.pages[0]) return old;
      if (old.pages.some((p) => p.commands.some((c) => c.id === cmd.id))) return old;
      const [first, ...rest] = old.pages;
      return { ...old, pages: [{ ...first, commands: [cmd, ...first.commands] }, ...rest] };
    });
  };

  const commands = history.data?.pages.flatMap((p) => p.commands) ?? [];

  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">Commands</CardTitle>
        <CardDescription>Delivered with the device's next heartbeat; statuses update live.</CardDescription>
      </CardHeader>
      <CardContent className="grid gap-4">
        {canCommand && <CommandForm pending={send.isPending} onSubmit={(c) => send.mutate(c, { onSuccess: onSent })} />}
        <section aria-label="Command history">
          <h3 className="mb-2 text-sm font-medium">History</h3>
          {history.isPending ? (
            <LoadingState label="Loading commands" />
          ) : history.isError ? (
            <ErrorState error={history.error} onRetry={() => void history.refetch()} />
          ) : commands.length === 0 ? (
            <EmptyState title="No commands yet" className="p-4" />
          ) : (
            <ul className="divide-y rounded-md border" data-testid="command-history">
              {commands.map((c) => (
                <li key={c.id} data-testid="command-item" data-command-id={c.id}>
                  <button
                    type="button"
                    onClick={() => setOpen(c.id)}
                    className="flex w-full items-center gap-3 px-3 py-2 text-left text-sm hover:bg-muted/50 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-inset focus-visible:ring-ring"
                    aria-label={`${c.type}, ${c.status}, ${timeAgo(c.issued_at)}. Show details`}
                  >
                    <CommandStatusBadge status={c.status} />
                    <span className="font-medium">{c.type}</span>
                    <span className="min-w-0 flex-1 truncate font-mono text-xs text-muted-foreground">{paramsText(c)}</span>
                    <span className="shrink-0 text-xs text-muted-foreground">{timeAgo(c.issued_at)}</span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          {history.hasNextPage && (
            <Button variant="ghost" size="sm" className="mt-2" disabled={history.isFetchingNextPage} onClick={() => void history.fetchNextPage()}>
              Load older commands
            </Button>
          )}
        </section>
      </CardContent>
      <CommandDetailDialog commandId={open} onClose={() => setOpen(null)} />
    </Card>
  );
}

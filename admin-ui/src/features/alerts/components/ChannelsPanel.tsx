import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { CheckCircle2, Loader2, Pencil, Plus, Send, Trash2, XCircle } from "lucide-react";
import { toast } from "sonner";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Switch } from "@/components/ui/switch";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { alertKeys, deleteChannel, listChannels, sendTestAlert, updateChannel } from "../api";
import type { AlertChannel, TestAlertResults } from "../schema";
import { ChannelDialog } from "./ChannelDialog";
import { severityVariant } from "./AlertsList";

/** Where alerts are sent: Discord, signed webhooks, email. Needs the manage permission. */
export function ChannelsPanel() {
  const qc = useQueryClient();
  const channels = useQuery({ queryKey: alertKeys.channels, queryFn: listChannels });
  const [editing, setEditing] = useState<AlertChannel | null>(null);
  const [dialogOpen, setDialogOpen] = useState(false);
  const [dialogKey, setDialogKey] = useState(0);
  const [deleting, setDeleting] = useState<AlertChannel | null>(null);
  const [results, setResults] = useState<TestAlertResults | null>(null);

  const openDialog = (ch: AlertChannel | null) => {
    setEditing(ch);
    setDialogKey((k) => k + 1); // a fresh form each time
    setDialogOpen(true);
  };
  const test = useMutation({
    mutationFn: sendTestAlert,
    meta: { errorTitle: "Could not send the test alert" },
    onMutate: () => setResults(null),
    onSuccess: (r) => {
      setResults(r);
      const failed = r.channels.filter((c) => !c.ok).length;
      if (r.channels.length === 0) toast.info("No channels to send to");
      else if (failed === 0) toast.success(`Test alert delivered to ${r.channels.length} channel(s)`);
      else toast.warning(`Test alert failed on ${failed} of ${r.channels.length} channel(s)`);
    },
  });
  const toggle = useMutation({
    mutationFn: (c: AlertChannel) => updateChannel(c.id, { enabled: !c.enabled }),
    meta: { errorTitle: "Could not change the channel" },
    onSuccess: (c) =>
      qc.setQueryData<AlertChannel[]>(alertKeys.channels, (old) => old?.map((x) => (x.id === c.id ? c : x))),
  });
  const remove = useMutation({
    mutationFn: (c: AlertChannel) => deleteChannel(c.id),
    meta: { errorTitle: "Could not remove the channel" },
    onSuccess: (_r, c) => {
      toast.success(`Removed ${c.name}`);
      setDeleting(null);
      void qc.invalidateQueries({ queryKey: alertKeys.channels });
      void qc.invalidateQueries({ queryKey: alertKeys.rules });
    },
  });

  return (
    <section aria-labelledby="channels-title" className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="channels-title" className="text-lg font-semibold">
          Channels
        </h2>
        <div className="flex flex-wrap gap-2">
          <Button variant="outline" onClick={() => test.mutate()} disabled={test.isPending}>
            {test.isPending ? <Loader2 className="animate-spin" aria-hidden /> : <Send aria-hidden />}
            Send test alert
          </Button>
          <Button onClick={() => openDialog(null)}>
            <Plus aria-hidden />
            Add channel
          </Button>
        </div>
      </div>
      <div aria-live="polite">
        {results && (
          <div className="rounded-md border p-3 text-sm" data-testid="test-alert-results">
            <p className="mb-2 font-medium">Test alert</p>
            {results.channels.length === 0 ? (
              <p className="text-muted-foreground">No channel is configured, so nothing was sent.</p>
            ) : (
              <ul className="space-y-1">
                {results.channels.map((c) => (
                  <li key={c.channel} className="flex items-start gap-2">
                    {c.ok ? (
                      <CheckCircle2 className="mt-0.5 size-4 shrink-0 text-success" aria-hidden />
                    ) : (
                      <XCircle className="mt-0.5 size-4 shrink-0 text-destructive" aria-hidden />
                    )}
                    <span>
                      <span className="font-medium">{c.channel}</span>: {c.ok ? "delivered" : `failed — ${c.error ?? "unknown error"}`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>

      {channels.isPending ? (
        <LoadingState label="Loading channels" />
      ) : channels.isError ? (
        <ErrorState error={channels.error} onRetry={() => void channels.refetch()} />
      ) : channels.data.length === 0 ? (
        <EmptyState
          title="No channels"
          description="Alerts are recorded and shown here, but nobody is notified. Add a Discord, webhook or email channel."
        />
      ) : (
        <div className="rounded-xl border">
          <Table aria-label="Alert channels">
            <TableHeader>
              <TableRow>
                <TableHead scope="col">Name</TableHead>
                <TableHead scope="col">Kind</TableHead>
                <TableHead scope="col" className="hidden md:table-cell">
                  Target
                </TableHead>
                <TableHead scope="col">Min severity</TableHead>
                <TableHead scope="col">Enabled</TableHead>
                <TableHead scope="col" className="text-right">
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {channels.data.map((c) => (
                <TableRow key={c.id}>
                  <TableCell className="font-medium">{c.name}</TableCell>
                  <TableCell>{c.kind}</TableCell>
                  <TableCell className="hidden max-w-64 truncate font-mono text-xs md:table-cell">
                    {c.kind === "email" ? (c.email_to ?? []).join(", ") || c.target : c.target}
                    {c.has_secret && <span className="ml-1 text-muted-foreground">(signed)</span>}
                  </TableCell>
                  <TableCell>
                    <Badge variant={severityVariant(c.min_severity)}>{c.min_severity}</Badge>
                  </TableCell>
                  <TableCell>
                    <Switch
                      checked={c.enabled}
                      onCheckedChange={() => toggle.mutate(c)}
                      disabled={toggle.isPending && toggle.variables?.id === c.id}
                      aria-label={`${c.name} enabled`}
                    />
                  </TableCell>
                  <TableCell>
                    <div className="flex justify-end gap-1">
                      <Button variant="ghost" size="icon" aria-label={`Edit ${c.name}`} onClick={() => openDialog(c)}>
                        <Pencil aria-hidden />
                      </Button>
                      <Button variant="ghost" size="icon" aria-label={`Remove ${c.name}`} onClick={() => setDeleting(c)}>
                        <Trash2 aria-hidden />
                      </Button>
                    </div>
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      <ChannelDialog key={dialogKey} open={dialogOpen} onOpenChange={setDialogOpen} channel={editing} />
      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(o) => !o && setDeleting(null)}
        title={`Remove ${deleting?.name ?? "channel"}?`}
        description="Alerts stop going to it at once. Rules that name it send to their other channels."
        confirmLabel="Remove channel"
        destructive
        pending={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
      />
    </section>
  );
}

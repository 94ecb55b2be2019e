import { useMemo, useState } from "react";
import { z } from "zod";
import { Progress } from "@/components/ui/progress";
import { formatNumber } from "@/lib/format";
import { useFeedEvent } from "@/lib/ws";
import { commandChangeSchema, commandFeedTypes, commandStatusSchema, terminalStatuses, type CommandStatus } from "@/features/commands/schema";

const changesSchema = z.array(commandChangeSchema);

/** Live outcome counts of a bulk command, from command.* feed events. */
export function BulkCommandTally({ commandIds }: { commandIds: string[] }) {
  const ids = useMemo(() => new Set(commandIds), [commandIds]);
  const [status, setStatus] = useState<ReadonlyMap<string, CommandStatus>>(new Map());

  useFeedEvent(commandFeedTypes, (e) => {
    const parsed = changesSchema.safeParse(e.data);
    if (!parsed.success) return;
    const mine = parsed.data.filter((c) => ids.has(c.command_id));
    if (mine.length === 0) return;
    setStatus((prev) => {
      const next = new Map(prev);
      for (const c of mine) next.set(c.command_id, c.status);
      return next;
    });
  });

  const counts = new Map<CommandStatus, number>();
  for (const id of commandIds) {
    const s = status.get(id) ?? "queued";
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const finished = terminalStatuses.reduce((n, s) => n + (counts.get(s) ?? 0), 0);

  return (
    <div className="grid gap-3" data-testid="bulk-command-tally">
      <p className="text-sm">
        Queued {formatNumber(commandIds.length)} command{commandIds.length === 1 ? "" : "s"}; {formatNumber(finished)} finished.
      </p>
      <Progress value={commandIds.length ? (finished / commandIds.length) * 100 : 100} label="Commands finished" />
      <dl className="grid grid-cols-3 gap-2 text-sm">
        {commandStatusSchema.options.map((s) => (
          <div key={s} className="rounded-md border p-2">
            <dt className="text-xs capitalize text-muted-foreground">{s}</dt>
            <dd className="font-semibold tabular-nums">{formatNumber(counts.get(s) ?? 0)}</dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

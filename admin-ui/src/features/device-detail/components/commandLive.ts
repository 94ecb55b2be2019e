import { useQueryClient, type InfiniteData } from "@tanstack/react-query";
import { z } from "zod";
import { useFeedEvent } from "@/lib/ws";
import { commandKeys } from "@/features/commands/api";
import { commandChangeSchema, commandFeedTypes, type Command, type CommandPage, type CommandStatus } from "@/features/commands/schema";

const rank: Record<CommandStatus, number> = { queued: 0, sent: 1, delivered: 2, succeeded: 3, failed: 3, expired: 3 };
const changesSchema = z.array(commandChangeSchema);

/** Moves a status forward only (events may arrive out of order). */
export function advance(cmd: Command, status: CommandStatus, at: string): Command {
  return rank[status] >= rank[cmd.status] && status !== cmd.status ? { ...cmd, status, updated_at: at } : cmd;
}

/** Follows this device's commands through command.* feed events. */
export function useDeviceCommandsLive(deviceId: string) {
  const qc = useQueryClient();
  useFeedEvent(commandFeedTypes, (e) => {
    const parsed = changesSchema.safeParse(e.data);
    if (!parsed.success) return;
    const mine = parsed.data.filter((c) => c.device_id === deviceId);
    if (mine.length === 0) return;
    const key = commandKeys.forDevice(deviceId);
    const data = qc.getQueryData<InfiniteData<CommandPage>>(key);
    const known = new Set(data?.pages.flatMap((p) => p.commands.map((c) => c.id)) ?? []);
    if (data) {
      const byId = new Map(mine.map((c) => [c.command_id, c]));
      qc.setQueryData<InfiniteData<CommandPage>>(key, {
        ...data,
        pages: data.pages.map((p) => ({
          ...p,
          commands: p.commands.map((c) => {
            const ch = byId.get(c.id);
            return ch ? advance(c, ch.status, ch.at) : c;
          }),
        })),
      });
    }
    // A command sent from elsewhere (another admin, a bulk send, auto-remediation): fetch it.
    if (mine.some((c) => !known.has(c.command_id))) void qc.invalidateQueries({ queryKey: key });
    for (const c of mine) void qc.invalidateQueries({ queryKey: commandKeys.one(c.command_id) });
  });
}

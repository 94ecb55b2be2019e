import { useInfiniteQuery, useMutation, useQuery } from "@tanstack/react-query";
import { api } from "@/lib/api";
import { bulkCommandAnswerSchema, commandPageSchema, commandSchema, type CommandType } from "@/features/commands/schema";

export const commandKeys = {
  forDevice: (deviceId: string) => ["commands", "device", deviceId] as const,
  one: (id: string) => ["commands", "one", id] as const,
};

export interface CommandInput {
  type: CommandType;
  params: Record<string, string | number>;
  ttl_s?: number;
}

export function useSendCommand(deviceId: string) {
  return useMutation({
    mutationFn: (c: CommandInput) => api(`/admin/devices/${deviceId}/commands`, commandSchema, { method: "POST", body: c }),
    meta: { errorTitle: "Command refused" },
  });
}

export function useSendBulkCommand() {
  return useMutation({
    mutationFn: (c: CommandInput & { selection_id: string }) =>
      api("/admin/commands/bulk", bulkCommandAnswerSchema, { method: "POST", body: c }),
    meta: { errorTitle: "Bulk command refused" },
  });
}

/** A device's commands, newest first, paged by cursor. */
export function useDeviceCommands(deviceId: string) {
  return useInfiniteQuery({
    queryKey: commandKeys.forDevice(deviceId),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) =>
      api("/admin/commands", commandPageSchema, { query: { device_id: deviceId, limit: 25, cursor: pageParam }, signal }),
    getNextPageParam: (last) => last.next_cursor,
    staleTime: 0,
  });
}

export function useCommand(id: string | null) {
  return useQuery({
    queryKey: commandKeys.one(id ?? ""),
    queryFn: ({ signal }) => api(`/admin/commands/${id}`, commandSchema, { signal }),
    enabled: !!id,
    staleTime: 0,
  });
}

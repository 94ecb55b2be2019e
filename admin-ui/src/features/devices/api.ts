import { keepPreviousData, useInfiniteQuery, useMutation, useQuery } from "@tanstack/react-query";
import { api } from "@/lib/api";
import {
  devicePageSchema,
  jobSchema,
  jobStartedSchema,
  selectionSchema,
  type DeviceFilter,
  type DeviceListParams,
} from "@/features/devices/schema";

export const PAGE_SIZE = 200;

export const deviceKeys = {
  lists: ["devices", "list"] as const,
  list: (p: DeviceListParams) => ["devices", "list", p] as const,
  detail: (id: string) => ["devices", "detail", id] as const,
  job: (id: string) => ["jobs", id] as const,
};

/** Server-side search/filter/sort, paged with the signed cursor as the user scrolls. */
export function useDeviceList(params: DeviceListParams) {
  return useInfiniteQuery({
    queryKey: deviceKeys.list(params),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) =>
      api("/admin/devices", devicePageSchema, {
        query: { ...params, service_down: params.service_down ? true : undefined, limit: PAGE_SIZE, cursor: pageParam },
        signal,
      }),
    getNextPageParam: (last) => last.next_cursor,
    staleTime: 0, // refetched when the page is opened again; live changes come from the feed
    placeholderData: keepPreviousData, // keep the rows on screen while a new filter loads
  });
}

/** Snapshot targets for a bulk action: ids, or everything matching a filter. */
export function useCreateSelection() {
  return useMutation({
    mutationFn: (targets: { device_ids: string[] } | { filter: DeviceFilter }) =>
      api("/admin/devices/selection", selectionSchema, { method: "POST", body: targets }),
    meta: { errorTitle: "Could not select the devices" },
  });
}

export function useBulkDelete() {
  return useMutation({
    mutationFn: (body: { selection_id: string; confirm: string; purge_history: boolean }) =>
      api("/admin/devices/bulk-delete", jobStartedSchema, { method: "POST", body }),
    meta: { errorTitle: "Bulk delete refused" },
  });
}

export function useJob(id: string | null) {
  return useQuery({
    queryKey: deviceKeys.job(id ?? ""),
    queryFn: ({ signal }) => api(`/admin/jobs/${id}`, jobSchema, { signal }),
    enabled: !!id,
  });
}

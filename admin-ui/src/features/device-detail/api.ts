import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "@/lib/api";
import { deviceKeys } from "@/features/devices/api";
import {
  alertPageSchema,
  alertSchema,
  deviceDetailSchema,
  historyRanges,
  historySchema,
  monitoringSchema,
  type HistoryRange,
  type MonitoringForm,
} from "@/features/device-detail/schema";

export const detailKeys = {
  history: (id: string, range: HistoryRange) => ["devices", "history", id, range] as const,
  monitoring: (id: string) => ["devices", "monitoring", id] as const,
  alerts: (id: string) => ["alerts", "device", id] as const,
};

export function useDevice(id: string) {
  return useQuery({
    queryKey: deviceKeys.detail(id),
    queryFn: ({ signal }) => api(`/admin/devices/${id}`, deviceDetailSchema, { signal }),
    staleTime: 0,
  });
}

export function useHeartbeats(id: string, range: HistoryRange) {
  return useQuery({
    queryKey: detailKeys.history(id, range),
    queryFn: ({ signal }) => {
      const ms = historyRanges.find((r) => r.id === range)!.ms;
      const to = new Date();
      const from = new Date(to.getTime() - ms);
      return api(`/admin/devices/${id}/heartbeats`, historySchema, {
        query: { from: from.toISOString(), to: to.toISOString() },
        signal,
      });
    },
    staleTime: 0,
  });
}

export function useMonitoring(id: string) {
  return useQuery({
    queryKey: detailKeys.monitoring(id),
    queryFn: ({ signal }) => api(`/admin/devices/${id}/monitoring`, monitoringSchema, { signal }),
    staleTime: 0,
  });
}

export function usePatchMonitoring(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (patch: Partial<MonitoringForm>) =>
      api(`/admin/devices/${id}/monitoring`, monitoringSchema, { method: "PATCH", body: patch }),
    meta: { errorTitle: "Monitoring not saved" },
    onSuccess: (m) => {
      qc.setQueryData(detailKeys.monitoring(id), m);
      void qc.invalidateQueries({ queryKey: deviceKeys.detail(id) });
    },
  });
}

export function useDeviceAlerts(id: string) {
  return useQuery({
    queryKey: detailKeys.alerts(id),
    queryFn: ({ signal }) => api("/admin/alerts", alertPageSchema, { query: { device_id: id, limit: 50 }, signal }),
    staleTime: 0,
  });
}

export function useAckAlert(deviceId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (alertId: string) => api(`/admin/alerts/${alertId}/ack`, alertSchema, { method: "POST" }),
    meta: { errorTitle: "Could not acknowledge" },
    onSuccess: () => void qc.invalidateQueries({ queryKey: detailKeys.alerts(deviceId) }),
  });
}

export function useDeleteDevice(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => api(`/admin/devices/${id}`, z.object({ deleted: z.string() }), { method: "DELETE" }),
    meta: { errorTitle: "Could not delete the device" },
    onSuccess: () => {
      qc.removeQueries({ queryKey: deviceKeys.detail(id) });
      void qc.invalidateQueries({ queryKey: deviceKeys.lists });
    },
  });
}

import { useRef } from "react";
import { Link, useParams } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { ChevronLeft } from "lucide-react";
import { ErrorState, LoadingState, PageHeader } from "@/components/states";
import { isApiError } from "@/lib/api";
import { useCan } from "@/lib/auth";
import { useFeedEvent } from "@/lib/ws";
import { deviceKeys } from "@/features/devices/api";
import { useDevicesLive } from "@/features/devices/live";
import { useDevice } from "@/features/device-detail/api";
import { CommandsCard } from "@/features/device-detail/components/CommandsCard";
import { DeleteDeviceButton } from "@/features/device-detail/components/DeleteDeviceButton";
import { DeviceAlerts } from "@/features/device-detail/components/DeviceAlerts";
import { DeviceSummary } from "@/features/device-detail/components/DeviceSummary";
import { HistoryCharts } from "@/features/device-detail/components/HistoryCharts";
import { MonitoringForm } from "@/features/device-detail/components/MonitoringForm";

export default function DeviceDetailPage() {
  const { id = "" } = useParams();
  const device = useDevice(id);
  const canManage = useCan("manage");
  useDevicesLive();

  // device.status carries the row, not the newest heartbeat (RAM, network…):
  // refetch the detail when this device reports, at most every 10 s.
  const qc = useQueryClient();
  const lastRefetch = useRef(0);
  const lastHistory = useRef(Date.now());
  useFeedEvent("device.status", (e) => {
    if (!Array.isArray(e.data) || !e.data.some((r: { id?: unknown }) => r?.id === id)) return;
    if (Date.now() - lastRefetch.current < 10_000) return;
    lastRefetch.current = Date.now();
    void qc.invalidateQueries({ queryKey: deviceKeys.detail(id) });
    // The charts gain a point per step: refresh them at most once a minute.
    if (Date.now() - lastHistory.current >= 60_000) {
      lastHistory.current = Date.now();
      void qc.invalidateQueries({ queryKey: ["devices", "history", id] });
    }
  });

  const back = (
    <Link to="/devices" className="inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
      <ChevronLeft className="size-4" aria-hidden /> Devices
    </Link>
  );

  if (device.isPending) return <LoadingState label="Loading the device" />;
  if (device.isError) {
    return (
      <div>
        {back}
        {isApiError(device.error) && (device.error.status === 404 || device.error.code === "invalid_id") ? (
          <ErrorState error={new Error("This device does not exist or was deleted.")} />
        ) : (
          <ErrorState error={device.error} onRetry={() => void device.refetch()} />
        )}
      </div>
    );
  }
  const d = device.data;
  const name = d.alias || d.serial;

  return (
    <div className="grid gap-4">
      {back}
      <PageHeader
        title={name}
        description={`${d.model} · ${d.serial}`}
        actions={canManage ? <DeleteDeviceButton deviceId={d.id} name={name} /> : undefined}
      />
      <DeviceSummary device={d} />
      <HistoryCharts deviceId={d.id} />
      <div className="grid gap-4 xl:grid-cols-2">
        <CommandsCard deviceId={d.id} />
        <div className="grid content-start gap-4">
          <DeviceAlerts deviceId={d.id} />
          <MonitoringForm deviceId={d.id} />
        </div>
      </div>
    </div>
  );
}

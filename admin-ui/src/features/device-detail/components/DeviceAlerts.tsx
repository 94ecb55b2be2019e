import { useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { useCan } from "@/lib/auth";
import { timeAgo } from "@/lib/format";
import { useFeedEvent } from "@/lib/ws";
import { detailKeys, useAckAlert, useDeviceAlerts } from "@/features/device-detail/api";
import { alertSchema, type Alert } from "@/features/device-detail/schema";

const alertsSchema = z.array(alertSchema);
const severityVariant = { info: "secondary", warning: "warning", critical: "destructive" } as const;
const ruleLabel: Record<string, string> = {
  offline: "Offline",
  low_battery: "Low battery",
  service_down: "Service down",
  release_failures: "Release failures",
};

/** The device's alerts, newest first; alert.* feed events keep them current. */
export function DeviceAlerts({ deviceId }: { deviceId: string }) {
  const qc = useQueryClient();
  const canAck = useCan("command");
  const alerts = useDeviceAlerts(deviceId);
  const ack = useAckAlert(deviceId);

  useFeedEvent(["alert.fired", "alert.resolved", "alert.acknowledged"], (e) => {
    const parsed = alertsSchema.safeParse(e.data);
    if (!parsed.success) return;
    const mine = parsed.data.filter((a) => a.device_id === deviceId);
    if (mine.length === 0) return;
    qc.setQueryData(detailKeys.alerts(deviceId), (old: { items: Alert[]; next_cursor: string | null } | undefined) => {
      if (!old) return old;
      const byId = new Map(mine.map((a) => [a.id, a]));
      const items = old.items.map((a) => byId.get(a.id) ?? a);
      const fresh = mine.filter((a) => !old.items.some((o) => o.id === a.id));
      return { ...old, items: [...fresh, ...items] };
    });
  });

  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">Alerts</CardTitle>
      </CardHeader>
      <CardContent>
        {alerts.isPending ? (
          <LoadingState label="Loading alerts" />
        ) : alerts.isError ? (
          <ErrorState error={alerts.error} onRetry={() => void alerts.refetch()} />
        ) : alerts.data.items.length === 0 ? (
          <EmptyState title="No alerts for this device" className="p-4" />
        ) : (
          <ul className="divide-y rounded-md border" aria-label="Device alerts">
            {alerts.data.items.map((a) => (
              <li key={a.id} className="flex flex-wrap items-center gap-2 px-3 py-2 text-sm" data-testid="device-alert">
                <Badge variant={severityVariant[a.severity]}>{a.severity}</Badge>
                <span className="font-medium">{ruleLabel[a.rule] ?? a.rule}</span>
                <span className="text-xs text-muted-foreground">fired {timeAgo(a.fired_at)}</span>
                <span className="flex-1" />
                {a.resolved_at ? (
                  <Badge variant="success">resolved {timeAgo(a.resolved_at)}</Badge>
                ) : a.acknowledged_at ? (
                  <Badge variant="outline">acknowledged by {a.acknowledged_by}</Badge>
                ) : canAck ? (
                  <Button size="sm" variant="outline" disabled={ack.isPending} onClick={() => ack.mutate(a.id)}>
                    Acknowledge
                  </Button>
                ) : (
                  <Badge variant="warning">open</Badge>
                )}
              </li>
            ))}
          </ul>
        )}
      </CardContent>
    </Card>
  );
}

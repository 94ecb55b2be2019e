import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { formatDateTime, timeAgo } from "@/lib/format";
import { BatteryCell } from "@/features/devices/components/BatteryCell";
import { StatusDot } from "@/features/devices/components/StatusDot";
import type { DeviceDetail } from "@/features/device-detail/schema";

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-muted-foreground">{label}</dt>
      <dd className="truncate text-sm">{children}</dd>
    </div>
  );
}

function uptime(s: number | undefined): string {
  if (s === undefined) return "—";
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m`;
}

/** Live status (kept current by device.status events) and what enrollment recorded. */
export function DeviceSummary({ device: d }: { device: DeviceDetail }) {
  const live = d.live;
  return (
    <Card>
      <CardHeader className="pb-3">
        <CardTitle className="flex flex-wrap items-center gap-3 text-base">
          Status
          <StatusDot status={d.status} />
          <BatteryCell pct={d.battery_pct} charging={d.charging} />
        </CardTitle>
      </CardHeader>
      <CardContent>
        <dl className="grid grid-cols-2 gap-x-4 gap-y-3 sm:grid-cols-3 xl:grid-cols-4">
          <Field label="Last seen">
            <span title={formatDateTime(d.last_seen)} data-testid="device-last-seen">
              {timeAgo(d.last_seen)}
            </span>
          </Field>
          <Field label="Agent">{d.agent_version || "—"}</Field>
          <Field label="Model">
            {d.enrollment.manufacturer} {d.model}
          </Field>
          <Field label="Android">
            {d.enrollment.sdk_int > 0
              ? `${d.enrollment.android_version} (SDK ${d.enrollment.sdk_int})`
              : d.enrollment.android_version || "—"}
          </Field>
          <Field label="Serial">
            <span className="font-mono">{d.serial}</span>
          </Field>
          <Field label="Enrolled">{formatDateTime(d.enrolled_at)}</Field>
          <Field label="RAM">
            {live?.ram_used_mb !== undefined && live.ram_total_mb ? `${live.ram_used_mb} / ${live.ram_total_mb} MB` : "—"}
          </Field>
          <Field label="Network">
            {live?.net_type ?? "—"}
            {live?.ssid ? ` (${live.ssid})` : ""}
            {live?.signal_dbm !== undefined ? ` · ${live.signal_dbm} dBm` : ""}
          </Field>
          <Field label="Uptime">{uptime(live?.uptime_s)}</Field>
          <Field label="Foreground app">
            <span className="font-mono text-xs">{live?.foreground_pkg ?? "—"}</span>
          </Field>
          <Field label="Command queue">{live?.queue_depth ?? "—"}</Field>
          <Field label="Push (FCM)">{d.enrollment.fcm_registered ? "registered" : "not registered"}</Field>
          {d.service && (
            <Field label="Monitored service">
              <span className={d.service.down ? "font-medium text-destructive" : undefined}>
                {d.service.display_name || d.service.package} {d.service.down ? "— down" : d.service.enabled ? "— up" : "(off)"}
              </span>
            </Field>
          )}
        </dl>
        {!live && <p className="mt-3 text-sm text-muted-foreground">No heartbeat yet.</p>}
      </CardContent>
    </Card>
  );
}

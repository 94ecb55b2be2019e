import { EmptyState, ErrorState, LoadingState, PageHeader } from "@/components/states";
import { formatNumber, timeAgo } from "@/lib/format";
import { OPEN_ALERTS_LIMIT, useFleetSummary, useOpenAlerts, useOverviewLive } from "@/features/overview/api";
import { BatteryChart } from "@/features/overview/components/BatteryChart";
import { StatCard } from "@/features/overview/components/StatCard";
import { VersionChart } from "@/features/overview/components/VersionChart";

export default function OverviewPage() {
  useOverviewLive();
  const summary = useFleetSummary();
  const alerts = useOpenAlerts();

  if (summary.isPending) return <LoadingState label="Loading the fleet" />;
  if (summary.isError) return <ErrorState error={summary.error} onRetry={() => void summary.refetch()} />;
  const s = summary.data;
  const open = alerts.data ? `${formatNumber(alerts.data.items.length)}${alerts.data.next_cursor ? "+" : ""}` : "—";
  const critical = alerts.data?.items.filter((a) => a.severity === "critical").length ?? 0;

  return (
    <div className="grid gap-4">
      <PageHeader title="Overview" description={`Live · updated ${timeAgo(s.at)}`} />
      <section aria-label="Fleet counts" className="grid grid-cols-2 gap-4 lg:grid-cols-4 xl:grid-cols-7">
        <StatCard label="Devices" value={formatNumber(s.total)} to="/devices" testId="stat-total" />
        <StatCard label="Online" value={formatNumber(s.online)} tone="good" to="/devices?status=online" testId="stat-online" />
        <StatCard label="Offline" value={formatNumber(s.offline)} tone={s.offline ? "bad" : "default"} to="/devices?status=offline" testId="stat-offline" />
        <StatCard label="Never seen" value={formatNumber(s.never)} to="/devices?status=never" testId="stat-never" />
        <StatCard
          label="Alerting"
          value={formatNumber(s.alerting)}
          hint="devices with an open alert"
          tone={s.alerting ? "warn" : "default"}
          to="/alerts"
          testId="stat-alerting"
        />
        <StatCard
          label="Open alerts"
          value={open}
          hint={alerts.data ? `${critical} critical${alerts.data.next_cursor ? ` (first ${OPEN_ALERTS_LIMIT})` : ""}` : undefined}
          tone={alerts.data?.items.length ? "warn" : "default"}
          to="/alerts"
          testId="stat-alerts"
        />
        <StatCard
          label="Services down"
          value={formatNumber(s.monitoring.services_down)}
          hint={`of ${formatNumber(s.monitoring.monitored)} monitored`}
          tone={s.monitoring.services_down ? "bad" : "default"}
          to="/devices?service_down=true"
          testId="stat-services-down"
        />
      </section>
      {s.total === 0 ? (
        <EmptyState title="No devices yet" description="Enroll devices from the Enrollment page; they show up here live." />
      ) : (
        <div className="grid gap-4 lg:grid-cols-2">
          <BatteryChart summary={s} />
          <VersionChart summary={s} />
        </div>
      )}
    </div>
  );
}

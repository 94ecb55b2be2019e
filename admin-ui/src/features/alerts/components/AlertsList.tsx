import { useId, useState } from "react";
import { Link } from "react-router-dom";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { Check, Loader2 } from "lucide-react";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge, type BadgeProps } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useCan } from "@/lib/auth";
import { cn } from "@/lib/utils";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useFeedEvent } from "@/lib/ws";
import { ackAlert, alertKeys, listAlerts } from "../api";
import { ALERT_EVENTS, alertsFromEvent, mergeAlerts } from "../live";
import { ALERT_RULES, SEVERITIES, uuidPattern, type Alert, type AlertFilters, type AlertRuleName, type Severity } from "../schema";

export const RULE_LABELS: Record<string, string> = {
  offline: "Offline",
  low_battery: "Low battery",
  service_down: "Service down",
  release_failures: "Release failures",
};

export function severityVariant(s: string): BadgeProps["variant"] {
  return s === "critical" ? "destructive" : s === "warning" ? "warning" : "secondary";
}

/** A short reading of what the rule saw. */
export function describeDetails(a: Alert): string {
  const d = a.details ?? {};
  const v = (k: string) => (d[k] === undefined || d[k] === null ? undefined : String(d[k]));
  switch (a.rule) {
    case "offline":
      return v("last_seen") ? `Last seen ${formatDateTime(v("last_seen"))}` : "";
    case "low_battery":
      return v("battery_pct") !== undefined
        ? `Battery ${v("battery_pct")}%${v("threshold_pct") ? ` (threshold ${v("threshold_pct")}%)` : ""}`
        : "";
    case "service_down": {
      const what = [v("package"), v("service")].filter(Boolean).join(" / ");
      const fg = v("last_foreground") ? `, last in foreground ${formatDateTime(v("last_foreground"))}` : "";
      return `${what}${fg}`;
    }
  }
  return Object.entries(d)
    .filter(([, x]) => x !== null && typeof x !== "object")
    .map(([k, x]) => `${k.replace(/_/g, " ")}: ${String(x)}`)
    .join(", ");
}

type StatusFilter = "open" | "resolved" | "all";

export function AlertsList() {
  const canAck = useCan("command");
  const qc = useQueryClient();
  const base = useId();
  const [status, setStatus] = useState<StatusFilter>("open");
  const [severity, setSeverity] = useState<Severity | "all">("all");
  const [rule, setRule] = useState<AlertRuleName | "all">("all");
  const [deviceDraft, setDeviceDraft] = useState("");
  const [device, setDevice] = useState("");
  const [deviceError, setDeviceError] = useState<string | null>(null);

  const filters: AlertFilters = {
    ...(status !== "all" && { status }),
    ...(severity !== "all" && { severity }),
    ...(rule !== "all" && { rule }),
    ...(device && { device_id: device }),
  };
  const alerts = useInfiniteQuery({
    queryKey: alertKeys.list(filters),
    queryFn: ({ pageParam, signal }) => listAlerts(filters, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  useFeedEvent(ALERT_EVENTS, (e) => mergeAlerts(qc, alertsFromEvent(e.data)));

  const ack = useMutation({
    mutationFn: (a: Alert) => ackAlert(a.id),
    meta: { errorTitle: "Could not acknowledge the alert" },
    onSuccess: (a) => mergeAlerts(qc, [a]),
  });

  const applyDevice = (ev: React.FormEvent) => {
    ev.preventDefault();
    const id = deviceDraft.trim();
    if (id && !uuidPattern.test(id)) {
      setDeviceError("A device id is a UUID, as in the device's page address.");
      return;
    }
    setDeviceError(null);
    setDevice(id);
  };

  const items = alerts.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = status !== "open" || severity !== "all" || rule !== "all" || device !== "";

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-3" role="group" aria-label="Alert filters">
        <div className="w-full space-y-1.5 sm:w-36">
          <Label htmlFor={`${base}-status`}>Status</Label>
          <Select value={status} onValueChange={(v) => setStatus(v as StatusFilter)}>
            <SelectTrigger id={`${base}-status`}>
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value="open">Open</SelectItem>
              <SelectItem value="resolved">Resolved</SelectItem>
              <SelectItem value="all">All</SelectItem>
            </SelectContent>
          </Select>
        </div>
        <div className="w-full space-y-1.5 sm:w-36">
          <Label htmlFor={`${base}-severity`}>Severity</Label>
          <Select value={severity} onValueChange={(v) => setSeverity(v as Severity | "all")}>
            <SelectTrigger id={`${base}-severity`}>
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value="all">Any</SelectItem>
              {SEVERITIES.map((s) => (
                <SelectItem key={s} value={s}>
                  {s}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
        </div>
        <div className="w-full space-y-1.5 sm:w-44">
          <Label htmlFor={`${base}-rule`}>Rule</Label>
          <Select value={rule} onValueChange={(v) => setRule(v as AlertRuleName | "all")}>
            <SelectTrigger id={`${base}-rule`}>
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value="all">Any</SelectItem>
              {ALERT_RULES.map((r) => (
                <SelectItem key={r} value={r}>
                  {RULE_LABELS[r]}
                </SelectItem>
              ))}
            </SelectContent>
          </Select>
        </div>
        <form className="flex w-full items-end gap-2 sm:w-auto" onSubmit={applyDevice}>
          <div className="flex-1 space-y-1.5 sm:w-80">
            <Label htmlFor={`${base}-device`}>Device ID</Label>
            <Input
              id={`${base}-device`}
              value={deviceDraft}
              placeholder="any device"
              spellCheck={false}
              onChange={(e) => setDeviceDraft(e.target.value)}
              aria-invalid={deviceError ? true : undefined}
              aria-describedby={deviceError ? `${base}-device-error` : undefined}
            />
          </div>
          <Button type="submit" variant="secondary">
            Apply
          </Button>
        </form>
      </div>
      {deviceError && (
        <p id={`${base}-device-error`} role="alert" className="text-sm text-destructive">
          {deviceError}
        </p>
      )}

      {alerts.isPending ? (
        <LoadingState label="Loading alerts" />
      ) : alerts.isError ? (
        <ErrorState error={alerts.error} onRetry={() => void alerts.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState
          title={filtered ? "No alerts match" : "No open alerts"}
          description={filtered ? "Change the filters to see more." : "All quiet. New alerts appear here as they fire."}
        />
      ) : (
        <div className="rounded-xl border">
          <Table aria-label="Alerts">
            <TableHeader>
              <TableRow>
                <TableHead scope="col">Severity</TableHead>
                <TableHead scope="col">Rule</TableHead>
                <TableHead scope="col">Device</TableHead>
                <TableHead scope="col" className="hidden lg:table-cell">
                  Details
                </TableHead>
                <TableHead scope="col">Fired</TableHead>
                <TableHead scope="col">State</TableHead>
                <TableHead scope="col" className="text-right">
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {items.map((a) => (
                <AlertRow
                  key={a.id}
                  alert={a}
                  canAck={canAck}
                  acking={ack.isPending && ack.variables?.id === a.id}
                  onAck={() => ack.mutate(a)}
                />
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {alerts.hasNextPage && (
        <div className="flex justify-center">
          <Button variant="outline" onClick={() => void alerts.fetchNextPage()} disabled={alerts.isFetchingNextPage}>
            {alerts.isFetchingNextPage && <Loader2 className="animate-spin" aria-hidden />}
            Load more
          </Button>
        </div>
      )}
    </div>
  );
}

function AlertRow({ alert: a, canAck, acking, onAck }: { alert: Alert; canAck: boolean; acking: boolean; onAck: () => void }) {
  const device = a.device_alias || a.device_id?.slice(0, 8);
  const label = `${RULE_LABELS[a.rule] ?? a.rule} alert${device ? ` on ${device}` : ""}`;
  const details = describeDetails(a);
  return (
    <TableRow data-testid={`alert-${a.id}`}>
      <TableCell>
        <Badge variant={severityVariant(a.severity)}>{a.severity}</Badge>
      </TableCell>
      <TableCell>
        <div>{RULE_LABELS[a.rule] ?? a.rule}</div>
        {!a.notified && <div className="text-xs text-muted-foreground">not sent (cooldown)</div>}
      </TableCell>
      <TableCell>
        {a.device_id ? (
          <Link
            to={`/devices/${a.device_id}`}
            className={cn("text-primary underline-offset-4 hover:underline", !a.device_alias && "font-mono text-xs")}
            title={a.device_id}
          >
            {device}
          </Link>
        ) : (
          <span className="text-muted-foreground">fleet</span>
        )}
      </TableCell>
      <TableCell className="hidden max-w-72 truncate text-sm text-muted-foreground lg:table-cell" title={details}>
        {details || "—"}
        {a.remediation_attempts > 0 && (
          <div className="text-xs">
            {a.remediation_attempts} restart attempt{a.remediation_attempts === 1 ? "" : "s"}
            {a.remediated === true && ", recovered"}
          </div>
        )}
      </TableCell>
      <TableCell className="whitespace-nowrap" title={formatDateTime(a.fired_at)}>
        {timeAgo(a.fired_at)}
      </TableCell>
      <TableCell>
        {a.resolved_at ? (
          <Badge variant="success" title={`Resolved ${formatDateTime(a.resolved_at)}`}>
            resolved
          </Badge>
        ) : (
          <Badge variant="outline">open</Badge>
        )}
        {a.acknowledged_at && (
          <div className="mt-1 text-xs text-muted-foreground" title={formatDateTime(a.acknowledged_at)}>
            acked by {a.acknowledged_by ?? "?"}
          </div>
        )}
      </TableCell>
      <TableCell className="text-right">
        {canAck && !a.acknowledged_at && (
          <Button variant="outline" size="sm" onClick={onAck} disabled={acking} aria-label={`Acknowledge ${label}`}>
            {acking ? <Loader2 className="animate-spin" aria-hidden /> : <Check aria-hidden />}
            Acknowledge
          </Button>
        )}
      </TableCell>
    </TableRow>
  );
}

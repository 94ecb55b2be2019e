import { useState } from "react";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Tabs, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { useHeartbeats } from "@/features/device-detail/api";
import { historyRanges, type HistoryRange } from "@/features/device-detail/schema";

interface ChartProps {
  title: string;
  data: Record<string, number | string | null>[];
  dataKey: string;
  unit: string;
  color: string;
  domain?: [number | "auto", number | "auto"];
  short: boolean;
}

function MetricChart({ title, data, dataKey, unit, color, domain, short }: ChartProps) {
  const fmt = (t: number) =>
    new Date(t).toLocaleString(undefined, short ? { hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", hour: "2-digit" });
  const values = data.map((p) => p[dataKey]).filter((v): v is number => typeof v === "number");
  return (
    <figure className="grid gap-1" aria-label={`${title} over time`}>
      <figcaption className="text-sm font-medium">
        {title}
        <span className="sr-only">
          {values.length > 0
            ? `: ${values.length} points, from ${Math.min(...values).toFixed(0)} to ${Math.max(...values).toFixed(0)} ${unit}`
            : ": no data"}
        </span>
      </figcaption>
      <div className="h-40">
        <ResponsiveContainer width="100%" height="100%">
          <LineChart data={data} margin={{ left: 0, right: 8, top: 4 }}>
            <CartesianGrid vertical={false} strokeOpacity={0.2} />
            <XAxis dataKey="t" type="number" scale="time" domain={["dataMin", "dataMax"]} tickFormatter={fmt} fontSize={11} tickLine={false} />
            <YAxis domain={domain ?? ["auto", "auto"]} fontSize={11} width={44} tickLine={false} axisLine={false} unit={unit === "%" ? "%" : ""} />
            <Tooltip
              labelFormatter={(t) => new Date(Number(t)).toLocaleString()}
              formatter={(v) => [`${typeof v === "number" ? v.toFixed(0) : String(v)} ${unit}`, title]}
              contentStyle={{ background: "var(--color-popover)", border: "1px solid var(--color-border)" }}
            />
            <Line type="monotone" dataKey={dataKey} stroke={color} dot={false} strokeWidth={2} connectNulls isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      </div>
    </figure>
  );
}

/** Battery, RAM and signal over time from GET /admin/devices/{id}/heartbeats. */
export function HistoryCharts({ deviceId }: { deviceId: string }) {
  const [range, setRange] = useState<HistoryRange>("24h");
  const history = useHeartbeats(deviceId, range);
  const short = range === "1h" || range === "6h" || range === "24h";
  const data = (history.data?.points ?? []).map((p) => ({
    t: Date.parse(p.at),
    battery: p.battery_avg,
    ram: p.ram_used_avg_mb,
    signal: p.signal_avg_dbm,
  }));

  return (
    <Card>
      <CardHeader className="flex-row flex-wrap items-center justify-between gap-2 space-y-0">
        <div>
          <CardTitle className="text-base">History</CardTitle>
          <CardDescription>
            {history.data ? `One point per ${Math.round(history.data.step_s / 60) || 1} min` : "From heartbeats"}
          </CardDescription>
        </div>
        <Tabs value={range} onValueChange={(v) => setRange(v as HistoryRange)}>
          <TabsList aria-label="Time range">
            {historyRanges.map((r) => (
              <TabsTrigger key={r.id} value={r.id} aria-label={r.label}>
                {r.id}
              </TabsTrigger>
            ))}
          </TabsList>
        </Tabs>
      </CardHeader>
      <CardContent>
        {history.isPending ? (
          <LoadingState label="Loading history" />
        ) : history.isError ? (
          <ErrorState error={history.error} onRetry={() => void history.refetch()} />
        ) : data.length === 0 ? (
          <EmptyState title="No heartbeats in this range" />
        ) : (
          <div className="grid gap-4 xl:grid-cols-3">
            <MetricChart title="Battery" data={data} dataKey="battery" unit="%" color="var(--color-success)" domain={[0, 100]} short={short} />
            <MetricChart title="RAM used" data={data} dataKey="ram" unit="MB" color="var(--color-chart-1)" short={short} />
            <MetricChart title="Signal" data={data} dataKey="signal" unit="dBm" color="var(--color-chart-5)" short={short} />
          </div>
        )}
      </CardContent>
    </Card>
  );
}

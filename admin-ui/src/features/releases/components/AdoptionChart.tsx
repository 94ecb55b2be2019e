import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { formatNumber } from "@/lib/format";
import { releaseAdoption, releaseKeys } from "../api";
import { ADOPTION_STEPS, type Adoption } from "../schema";

const STEP_LABELS: Record<string, string> = {
  offered: "Offered",
  deferred: "Deferred",
  download_started: "Downloading",
  downloaded: "Downloaded",
  verified: "Verified",
  installing: "Installing",
  installed: "Installed",
  failed: "Failed",
};
const COLORS = ["var(--chart-1)", "var(--chart-2)", "var(--chart-3)", "var(--chart-4)", "var(--chart-5)"];
// Before the container is measured (and in tests, which have no layout).
const CHART_SIZE = { width: 560, height: 224 };
const axis = { stroke: "var(--muted-foreground)", fontSize: 12 };
const tooltipStyle = {
  contentStyle: {
    background: "var(--popover)",
    color: "var(--popover-foreground)",
    border: "1px solid var(--border)",
    borderRadius: 8,
  },
  labelStyle: { color: "var(--popover-foreground)" },
};

const hourFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const fmtTime = (iso: string) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : hourFmt.format(d);
};

/** Pivots version_history rows into one point per sample time, one key per version. */
export function pivotHistory(rows: Adoption["version_history"], keep: Set<number>) {
  const byAt = new Map<string, Record<string, number | string>>();
  for (const r of rows) {
    const key = keep.has(r.version_code) ? `v${r.version_code}` : "other";
    const p = byAt.get(r.at) ?? { at: r.at };
    p[key] = ((p[key] as number | undefined) ?? 0) + r.devices;
    byAt.set(r.at, p);
  }
  return [...byAt.values()].sort((a, b) => Date.parse(String(a.at)) - Date.parse(String(b.at)));
}

/** How a release is being taken up: steps, installs per hour, the fleet's versions over time. */
export function AdoptionChart({ releaseId }: { releaseId: string }) {
  const q = useQuery({ queryKey: releaseKeys.adoption(releaseId), queryFn: () => releaseAdoption(releaseId), refetchInterval: 60_000 });
  if (q.isPending) return <LoadingState label="Loading adoption" />;
  if (q.isError) return <ErrorState error={q.error} onRetry={() => void q.refetch()} />;
  const a = q.data;
  const steps = [...ADOPTION_STEPS, ...Object.keys(a.states).filter((s) => !(ADOPTION_STEPS as readonly string[]).includes(s))];
  const totalReported = Object.values(a.states).reduce((x, y) => x + y, 0);
  // The five versions with most devices now, plus this release's; the rest as "other".
  const top = [...a.versions].sort((x, y) => y.devices - x.devices).slice(0, 5).map((v) => v.version_code);
  const keep = new Set([...top, a.version_code]);
  const history = pivotHistory(a.version_history, keep);
  const seriesKeys = [...keep].sort((x, y) => y - x).map((v) => `v${v}`);
  if (history.some((p) => "other" in p)) seriesKeys.push("other");

  return (
    <div className="space-y-6">
      <div>
        <h4 className="mb-2 text-sm font-medium">Devices by latest step</h4>
        {totalReported === 0 ? (
          <p className="text-sm text-muted-foreground">No device has reported a step for this release yet.</p>
        ) : (
          <dl className="grid grid-cols-2 gap-2 sm:grid-cols-4" aria-label="Devices by latest step">
            {steps.map((s) => (
              <div key={s} className="rounded-md border p-2">
                <dt className="text-xs text-muted-foreground">{STEP_LABELS[s] ?? s}</dt>
                <dd className={s === "failed" && (a.states[s] ?? 0) > 0 ? "text-lg font-semibold text-destructive" : "text-lg font-semibold"}>
                  {formatNumber(a.states[s] ?? 0)}
                </dd>
              </div>
            ))}
          </dl>
        )}
      </div>

      <figure>
        <figcaption className="mb-2 text-sm font-medium">Installs and failures per hour</figcaption>
        {a.timeline.length === 0 ? (
          <EmptyState title="No installs yet" className="p-4" />
        ) : (
          <div className="h-56 w-full" role="img" aria-label="Installs and failures per hour">
            <ResponsiveContainer width="100%" height="100%" initialDimension={CHART_SIZE}>
              <BarChart data={a.timeline} margin={{ left: -16, right: 8, top: 4 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
                <XAxis dataKey="hour" tickFormatter={fmtTime} {...axis} minTickGap={24} />
                <YAxis allowDecimals={false} {...axis} />
                <Tooltip labelFormatter={(l) => fmtTime(String(l))} {...tooltipStyle} />
                <Legend />
                <Bar dataKey="installed" name="Installed" stackId="a" fill="var(--chart-2)" />
                <Bar dataKey="failed" name="Failed" stackId="a" fill="var(--chart-4)" />
              </BarChart>
            </ResponsiveContainer>
          </div>
        )}
      </figure>

      <figure>
        <figcaption className="mb-2 text-sm font-medium">Fleet agent versions over time</figcaption>
        {history.length === 0 ? (
          <EmptyState title="No samples yet" description="Versions are sampled periodically from heartbeats." className="p-4" />
        ) : (
          <div className="h-56 w-full" role="img" aria-label="Fleet agent versions over time">
            <ResponsiveContainer width="100%" height="100%" initialDimension={CHART_SIZE}>
              <LineChart data={history} margin={{ left: -16, right: 8, top: 4 }}>
                <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
                <XAxis dataKey="at" tickFormatter={fmtTime} {...axis} minTickGap={24} />
                <YAxis allowDecimals={false} {...axis} />
                <Tooltip labelFormatter={(l) => fmtTime(String(l))} {...tooltipStyle} />
                <Legend />
                {seriesKeys.map((k, i) => (
                  <Line
                    key={k}
                    type="monotone"
                    dataKey={k}
                    name={k === "other" ? "other" : k === `v${a.version_code}` ? `${k} (this release)` : k === "v0" ? "unknown" : k}
                    stroke={k === `v${a.version_code}` ? "var(--primary)" : COLORS[i % COLORS.length]}
                    strokeWidth={k === `v${a.version_code}` ? 3 : 1.5}
                    dot={false}
                    connectNulls
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
        )}
      </figure>

      {a.versions.length > 0 && (
        <div>
          <h4 className="mb-2 text-sm font-medium">Fleet now</h4>
          <ul className="flex flex-wrap gap-2 text-sm" aria-label="Devices by agent version now">
            {[...a.versions]
              .sort((x, y) => y.version_code - x.version_code)
              .map((v) => (
                <li key={v.version_code} className="rounded-md border px-2 py-1">
                  {v.version_code === 0 ? "never reported" : `v${v.version_code}`}: {formatNumber(v.devices)}
                </li>
              ))}
          </ul>
        </div>
      )}
    </div>
  );
}

import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { formatNumber } from "@/lib/format";
import type { FleetSummary } from "@/features/overview/schema";

const MAX_ROWS = 8;

/** Agent version adoption as proportion bars (most common first, as the server orders them). */
export function VersionChart({ summary }: { summary: FleetSummary }) {
  const versions = summary.agent_versions;
  const shown = versions.slice(0, MAX_ROWS);
  const rest = versions.slice(MAX_ROWS).reduce((n, v) => n + v.count, 0);
  const rows = rest > 0 ? [...shown, { version: "other", count: rest }] : shown;
  const total = Math.max(1, summary.total);
  return (
    <Card>
      <CardHeader>
        <CardTitle>Agent versions</CardTitle>
        <CardDescription>{formatNumber(versions.length)} versions in the fleet</CardDescription>
      </CardHeader>
      <CardContent>
        {rows.length === 0 ? (
          <p className="text-sm text-muted-foreground">No devices yet.</p>
        ) : (
          <ul className="grid gap-2.5" aria-label="Devices per agent version">
            {rows.map((v) => {
              const pct = (v.count / total) * 100;
              return (
                <li key={v.version} className="grid gap-1">
                  <div className="flex justify-between text-sm">
                    <span className="font-mono">{v.version || "unknown"}</span>
                    <span className="tabular-nums text-muted-foreground">
                      {formatNumber(v.count)} · {pct.toFixed(pct < 10 ? 1 : 0)}%
                    </span>
                  </div>
                  <div className="h-2 overflow-hidden rounded-full bg-muted" aria-hidden>
                    <div className="h-full rounded-full bg-chart-1" style={{ width: `${pct}%` }} />
                  </div>
                </li>
              );
            })}
          </ul>
        )}
      </CardContent>
    </Card>
  );
}

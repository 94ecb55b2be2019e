import { Bar, BarChart, CartesianGrid, Cell, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { formatNumber } from "@/lib/format";
import type { FleetSummary } from "@/features/overview/schema";

const bandColor: Record<string, string> = {
  "0-14": "var(--color-destructive)",
  "15-29": "var(--color-warning)",
  "30-59": "var(--color-chart-1)",
  "60-100": "var(--color-success)",
  unknown: "var(--color-muted-foreground)",
};

export function BatteryChart({ summary }: { summary: FleetSummary }) {
  const data = [
    ...summary.battery.bands.map((b) => ({ band: `${b.band}%`, key: b.band, count: b.count })),
    { band: "Unknown", key: "unknown", count: summary.battery.unknown },
  ];
  return (
    <Card>
      <CardHeader>
        <CardTitle>Battery</CardTitle>
        <CardDescription>
          {formatNumber(summary.battery.charging)} charging · {formatNumber(summary.battery.low)} online below 15% and not charging
        </CardDescription>
      </CardHeader>
      <CardContent>
        <figure aria-label="Devices by battery level">
          <div className="h-56">
            <ResponsiveContainer width="100%" height="100%">
              <BarChart data={data} margin={{ left: 0, right: 8 }}>
                <CartesianGrid vertical={false} strokeOpacity={0.2} />
                <XAxis dataKey="band" tickLine={false} axisLine={false} fontSize={12} />
                <YAxis allowDecimals={false} tickLine={false} axisLine={false} fontSize={12} width={48} />
                <Tooltip cursor={{ fillOpacity: 0.1 }} contentStyle={{ background: "var(--color-popover)", border: "1px solid var(--color-border)" }} />
                <Bar dataKey="count" name="Devices" radius={[4, 4, 0, 0]} isAnimationActive={false}>
                  {data.map((d) => (
                    <Cell key={d.key} fill={bandColor[d.key]} />
                  ))}
                </Bar>
              </BarChart>
            </ResponsiveContainer>
          </div>
          <figcaption className="sr-only">
            {data.map((d) => `${d.band}: ${d.count}`).join(", ")}
          </figcaption>
        </figure>
      </CardContent>
    </Card>
  );
}

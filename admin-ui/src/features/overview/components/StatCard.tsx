import { Link } from "react-router-dom";
import { Card, CardContent, CardHeader, CardTitle } from "@/components/ui/card";
import { cn } from "@/lib/utils";

interface StatCardProps {
  label: string;
  value: string;
  hint?: string;
  to?: string;
  tone?: "default" | "good" | "bad" | "warn";
  testId?: string;
}

const toneClass = { default: "", good: "text-success", bad: "text-destructive", warn: "text-warning" };

export function StatCard({ label, value, hint, to, tone = "default", testId }: StatCardProps) {
  const body = (
    <Card className={cn("h-full", to && "transition-colors hover:bg-muted/40")}>
      <CardHeader className="pb-1">
        <CardTitle className="text-sm font-medium text-muted-foreground">{label}</CardTitle>
      </CardHeader>
      <CardContent>
        <div className={cn("text-3xl font-semibold tabular-nums", toneClass[tone])} data-testid={testId}>
          {value}
        </div>
        {hint && <p className="mt-1 text-xs text-muted-foreground">{hint}</p>}
      </CardContent>
    </Card>
  );
  return to ? (
    <Link to={to} className="rounded-xl focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring" aria-label={`${label}: ${value}`}>
      {body}
    </Link>
  ) : (
    body
  );
}

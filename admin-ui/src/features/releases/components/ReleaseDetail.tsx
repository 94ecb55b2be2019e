import { useId, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Loader2, Pause, Play, Rocket, Undo2 } from "lucide-react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Slider } from "@/components/ui/slider";
import { useCan } from "@/lib/auth";
import { formatDateTime } from "@/lib/format";
import { pauseRelease, promoteRelease, releaseKeys, resumeRelease, rollbackRelease, setRolloutPercent } from "../api";
import { allowed, type Release, type Rollback } from "../schema";
import { AdoptionChart } from "./AdoptionChart";
import { StatusBadge } from "./StatusBadge";

/** One release: its actions, rollout control and adoption. */
export function ReleaseDetail({ release: r, onChanged }: { release: Release; onChanged?: (id: string) => void }) {
  const canManage = useCan("manage");
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState<"promote" | "pause" | "rollback" | null>(null);
  const [reason, setReason] = useState("");
  const [downgrade, setDowngrade] = useState(false);
  const [rollbackResult, setRollbackResult] = useState<Rollback | null>(null);
  const ids = useId();

  const updated = (next: Release) => {
    onChanged?.(next.id); // keep showing this release, whatever becomes current
    qc.setQueryData<Release[]>(releaseKeys.list, (old) => old?.map((x) => (x.id === next.id ? next : x)));
    void qc.invalidateQueries({ queryKey: releaseKeys.list });
    void qc.invalidateQueries({ queryKey: releaseKeys.adoption(next.id) });
  };
  const act = useMutation({
    mutationFn: async (what: "promote" | "pause" | "resume") =>
      what === "promote" ? promoteRelease(r.id) : what === "pause" ? pauseRelease(r.id, reason.trim()) : resumeRelease(r.id),
    meta: { errorTitle: "The release did not change" },
    onSuccess: (next, what) => {
      toast.success({ promote: "Promoted", pause: "Paused", resume: "Resumed" }[what]);
      setConfirm(null);
      setReason("");
      updated(next);
    },
  });
  const rollback = useMutation({
    mutationFn: () => rollbackRelease(r.id, downgrade),
    meta: { errorTitle: "Rollback failed" },
    onSuccess: (res) => {
      setConfirm(null);
      setDowngrade(false);
      setRollbackResult(res);
      toast.success("Rolled back");
      updated(res.rolled_back);
    },
  });

  const title = `${r.version_name || r.version_code} on ${r.channel}`;
  return (
    <Card aria-labelledby={`${ids}-title`} role="region">
      <CardHeader>
        <div className="flex flex-wrap items-start justify-between gap-3">
          <div className="space-y-1">
            <CardTitle id={`${ids}-title`} className="flex items-center gap-2 text-base">
              {title} <StatusBadge status={r.status} />
            </CardTitle>
            <CardDescription>
              <span className="font-mono">{r.package}</span>, version code {r.version_code}. Created{" "}
              {formatDateTime(r.created_at)} by {r.created_by}
              {r.promoted_at && `; promoted ${formatDateTime(r.promoted_at)}`}.
              {r.status === "paused" && r.paused_reason && ` Paused: ${r.paused_reason}.`}
              {r.rollback_of && " Restored by a rollback."}
            </CardDescription>
            <p className="text-xs text-muted-foreground">
              {r.wifi_only ? "Wi-Fi only" : "Any network"} · battery ≥ {r.min_battery_pct}% ·{" "}
              {r.not_in_call ? "not during calls" : "even during calls"} · auto-pause past {r.failure_threshold_pct}% failures
              after {r.failure_min_devices} devices{r.allow_downgrade && " · downgrade allowed"}
            </p>
          </div>
          {canManage && (
            <div className="flex flex-wrap gap-2">
              {allowed.promote(r.status) && (
                <Button onClick={() => setConfirm("promote")}>
                  <Rocket aria-hidden />
                  Promote
                </Button>
              )}
              {allowed.pause(r.status) && (
                <Button variant="outline" onClick={() => setConfirm("pause")}>
                  <Pause aria-hidden />
                  Pause
                </Button>
              )}
              {allowed.resume(r.status) && (
                <Button variant="outline" onClick={() => act.mutate("resume")} disabled={act.isPending}>
                  {act.isPending ? <Loader2 className="animate-spin" aria-hidden /> : <Play aria-hidden />}
                  Resume
                </Button>
              )}
              {allowed.rollback(r.status) && (
                <Button variant="destructive" onClick={() => setConfirm("rollback")}>
                  <Undo2 aria-hidden />
                  Roll back
                </Button>
              )}
            </div>
          )}
        </div>
      </CardHeader>
      <CardContent className="space-y-6">
        <RolloutControl key={`${r.id}:${r.rollout_percent}`} release={r} editable={canManage && allowed.percent(r.status)} onSaved={updated} />
        {rollbackResult && rollbackResult.rolled_back.id === r.id && (
          <div role="status" className="rounded-md border p-3 text-sm">
            <p className="font-medium">Rollback done</p>
            <p>
              {rollbackResult.restored
                ? `Version ${rollbackResult.restored.version_name || rollbackResult.restored.version_code} is current again on ${r.channel}.`
                : `The channel had no previous release: ${r.channel} now offers nothing.`}{" "}
              {rollbackResult.already_updated.count} device(s) already run this version;{" "}
              {rollbackResult.already_updated.offered_previous
                ? "they are offered the previous version (downgrade) and were nudged."
                : "they keep it."}
            </p>
          </div>
        )}
        <AdoptionChart releaseId={r.id} />
      </CardContent>

      <ConfirmDialog
        open={confirm === "promote"}
        onOpenChange={(o) => !o && setConfirm(null)}
        title={`Promote ${title}?`}
        description={`It becomes ${r.channel}'s current release (the current one is superseded), offered to ${r.rollout_percent}% of the channel's devices, which are nudged to check now.`}
        confirmLabel="Promote"
        pending={act.isPending}
        onConfirm={() => act.mutate("promote")}
      />
      <ConfirmDialog
        open={confirm === "pause"}
        onOpenChange={(o) => !o && setConfirm(null)}
        title={`Pause ${title}?`}
        description="No device is offered it until you resume. Devices already updating carry on."
        confirmLabel="Pause"
        pending={act.isPending}
        onConfirm={() => act.mutate("pause")}
      >
        <div className="space-y-1.5">
          <Label htmlFor={`${ids}-reason`}>Reason (optional)</Label>
          <Input id={`${ids}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
        </div>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === "rollback"}
        onOpenChange={(o) => !o && setConfirm(null)}
        title={`Roll back ${title}?`}
        description={`It stops being offered and ${r.channel}'s previous release becomes current for every device. This cannot be undone; release the build again to retry.`}
        confirmLabel="Roll back"
        destructive
        pending={rollback.isPending}
        onConfirm={() => rollback.mutate()}
      >
        <div className="flex items-start gap-2">
          <Checkbox id={`${ids}-downgrade`} checked={downgrade} onCheckedChange={(c) => setDowngrade(c === true)} />
          <Label htmlFor={`${ids}-downgrade`} className="font-normal leading-snug">
            Downgrade devices that already installed it: offer them the previous version and nudge them now
          </Label>
        </div>
      </ConfirmDialog>
    </Card>
  );
}

function RolloutControl({ release: r, editable, onSaved }: { release: Release; editable: boolean; onSaved: (r: Release) => void }) {
  const [value, setValue] = useState(r.rollout_percent);
  const ids = useId();
  const save = useMutation({
    mutationFn: (p: number) => setRolloutPercent(r.id, p),
    meta: { errorTitle: "Could not change the rollout" },
    onSuccess: (next) => {
      toast.success(`Rollout set to ${next.rollout_percent}%`);
      onSaved(next);
    },
  });
  const raising = value > r.rollout_percent;
  return (
    <div className="space-y-2">
      <div className="flex items-baseline justify-between gap-2">
        <Label id={`${ids}-label`}>Rollout</Label>
        <span className="text-sm tabular-nums" aria-live="polite" data-testid="rollout-value">
          {value}% of the channel{value !== r.rollout_percent && ` (now ${r.rollout_percent}%)`}
        </span>
      </div>
      <div className="flex flex-wrap items-center gap-3">
        <Slider
          className="min-w-48 flex-1"
          min={1}
          max={100}
          step={1}
          value={[value]}
          onValueChange={(v) => setValue(v[0] ?? value)}
          disabled={!editable || save.isPending}
          thumbLabel="Rollout percent"
          aria-labelledby={`${ids}-label`}
        />
        {editable && (
          <>
            <Button size="sm" onClick={() => save.mutate(value)} disabled={value === r.rollout_percent || save.isPending}>
              {save.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Set rollout to {value}%
            </Button>
            {value !== r.rollout_percent && (
              <Button size="sm" variant="ghost" onClick={() => setValue(r.rollout_percent)}>
                Reset
              </Button>
            )}
          </>
        )}
      </div>
      {editable && value !== r.rollout_percent && (
        <p className="text-xs text-muted-foreground">
          {raising
            ? r.status === "active"
              ? "Raising it adds devices, which are nudged to update now."
              : "Raising it adds devices once the release is active."
            : "Lowering it stops new offers; devices that already updated keep the version."}
        </p>
      )}
    </div>
  );
}

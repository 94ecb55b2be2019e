import { useEffect, useId, useState } from "react";
import { Loader2 } from "lucide-react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Switch } from "@/components/ui/switch";
import { ErrorState, LoadingState } from "@/components/states";
import { useCan } from "@/lib/auth";
import { useMonitoring, usePatchMonitoring } from "@/features/device-detail/api";
import { monitoringFormSchema, type Monitoring, type MonitoringForm as Form } from "@/features/device-detail/schema";

type Raw = { monitored_package: string; display_name: string; threshold_min: string; enabled: boolean; auto_remediate: boolean };

function toRaw(m: Monitoring): Raw {
  return {
    monitored_package: m.monitored_package,
    display_name: m.display_name,
    threshold_min: String(m.threshold_min),
    enabled: m.enabled,
    auto_remediate: m.auto_remediate,
  };
}

/** The device's service monitoring (GET/PATCH /admin/devices/{id}/monitoring); sends only what changed. */
export function MonitoringForm({ deviceId }: { deviceId: string }) {
  const id = useId();
  const canEdit = useCan("command");
  const monitoring = useMonitoring(deviceId);
  const patch = usePatchMonitoring(deviceId);
  const [raw, setRaw] = useState<Raw | null>(null);
  const [errors, setErrors] = useState<Partial<Record<keyof Form, string>>>({});

  useEffect(() => {
    if (monitoring.data) setRaw(toRaw(monitoring.data));
  }, [monitoring.data]);

  if (monitoring.isPending) return <LoadingState label="Loading monitoring" />;
  if (monitoring.isError) return <ErrorState error={monitoring.error} onRetry={() => void monitoring.refetch()} />;
  if (!raw) return null;
  const current = monitoring.data;

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const parsed = monitoringFormSchema.safeParse(raw);
    if (!parsed.success) {
      const errs: Partial<Record<keyof Form, string>> = {};
      for (const i of parsed.error.issues) errs[i.path[0] as keyof Form] ??= i.message;
      setErrors(errs);
      return;
    }
    setErrors({});
    const changed: Partial<Form> = {};
    for (const k of Object.keys(parsed.data) as (keyof Form)[]) {
      if (parsed.data[k] !== current[k]) (changed as Record<string, unknown>)[k] = parsed.data[k];
    }
    if (Object.keys(changed).length === 0) {
      toast.info("Nothing changed");
      return;
    }
    patch.mutate(changed, { onSuccess: () => toast.success("Monitoring saved") });
  };

  const text = (k: "monitored_package" | "display_name" | "threshold_min", label: string, extra?: React.ComponentProps<typeof Input>) => (
    <div className="grid gap-1.5">
      <Label htmlFor={`${id}-${k}`}>{label}</Label>
      <Input
        id={`${id}-${k}`}
        value={raw[k]}
        disabled={!canEdit}
        onChange={(e) => setRaw({ ...raw, [k]: e.target.value })}
        aria-invalid={!!errors[k]}
        aria-describedby={errors[k] ? `${id}-${k}-err` : undefined}
        {...extra}
      />
      {errors[k] && (
        <p id={`${id}-${k}-err`} className="text-sm text-destructive">
          {errors[k]}
        </p>
      )}
    </div>
  );

  return (
    <Card>
      <CardHeader>
        <CardTitle className="text-base">Service monitoring</CardTitle>
        <CardDescription>
          Alert when the package has not been in the foreground for the threshold.
          {!canEdit && " Your role can view these settings but not change them."}
        </CardDescription>
      </CardHeader>
      <CardContent>
        <form onSubmit={submit} className="grid gap-3" aria-label="Service monitoring">
          {text("monitored_package", "Package", { placeholder: "com.example.app", spellCheck: false })}
          {text("display_name", "Display name", { maxLength: 64 })}
          {text("threshold_min", "Threshold (minutes)", { inputMode: "numeric" })}
          <div className="flex items-center gap-2">
            <Switch
              id={`${id}-enabled`}
              checked={raw.enabled}
              disabled={!canEdit}
              onCheckedChange={(c) => setRaw({ ...raw, enabled: c })}
              aria-describedby={errors.enabled ? `${id}-enabled-err` : undefined}
            />
            <Label htmlFor={`${id}-enabled`}>Enabled</Label>
          </div>
          {errors.enabled && (
            <p id={`${id}-enabled-err`} className="text-sm text-destructive">
              {errors.enabled}
            </p>
          )}
          <div className="flex items-center gap-2">
            <Switch
              id={`${id}-auto`}
              checked={raw.auto_remediate}
              disabled={!canEdit}
              onCheckedChange={(c) => setRaw({ ...raw, auto_remediate: c })}
            />
            <Label htmlFor={`${id}-auto`}>Relaunch automatically when down</Label>
          </div>
          {canEdit && (
            <Button type="submit" disabled={patch.isPending} className="justify-self-start">
              {patch.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Save monitoring
            </Button>
          )}
        </form>
      </CardContent>
    </Card>
  );
}

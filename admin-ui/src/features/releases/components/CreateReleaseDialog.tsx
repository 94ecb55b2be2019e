import { useId, useState } from "react";
import { Link } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Loader2 } from "lucide-react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { FormField, invalidProps } from "@/components/ui/form-field";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Switch } from "@/components/ui/switch";
import { isApiError } from "@/lib/api";
import { createRelease, listUploadedBuilds, releaseKeys } from "../api";
import { createReleaseSchema, type Release } from "../schema";

const NUMBERS = [
  { key: "rollout_percent", label: "Rollout (%)", hint: "Share of the channel's devices offered it once promoted." },
  { key: "min_battery_pct", label: "Minimum battery (%)", hint: "Devices below it wait." },
  { key: "failure_threshold_pct", label: "Failure threshold (%)", hint: "Pause automatically past this failure rate…" },
  { key: "failure_min_devices", label: "…after at least (devices)", hint: "…once this many devices have tried." },
] as const;

type Form = {
  build_id: string;
  rollout_percent: string;
  min_battery_pct: string;
  failure_threshold_pct: string;
  failure_min_devices: string;
  wifi_only: boolean;
  not_in_call: boolean;
};
const defaults: Form = {
  build_id: "",
  rollout_percent: "10",
  min_battery_pct: "0",
  failure_threshold_pct: "20",
  failure_min_devices: "10",
  wifi_only: false,
  not_in_call: true,
};

/** A draft release from an uploaded build; it offers nothing until promoted. */
export function CreateReleaseDialog({
  open,
  onOpenChange,
  onCreated,
}: {
  open: boolean;
  onOpenChange: (o: boolean) => void;
  onCreated: (r: Release) => void;
}) {
  const qc = useQueryClient();
  const builds = useQuery({ queryKey: releaseKeys.builds, queryFn: listUploadedBuilds, enabled: open });
  const [form, setForm] = useState<Form>(defaults);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const base = useId();
  const id = (k: string) => `${base}-${k}`;
  const finish = () => {
    setForm(defaults);
    setErrors({});
    onOpenChange(false);
  };
  const create = useMutation({
    mutationFn: createRelease,
    meta: { errorTitle: "Could not create the release" },
    onSuccess: (r) => {
      toast.success(`Draft release ${r.version_name || r.version_code} created`, { description: "Promote it to start the rollout." });
      void qc.invalidateQueries({ queryKey: releaseKeys.list });
      onCreated(r);
      finish();
    },
    onError: (e) => {
      if (isApiError(e) && e.field) setErrors({ [e.field]: e.message });
    },
  });
  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const num = (s: string) => (s.trim() === "" ? Number.NaN : Number(s));
    const parsed = createReleaseSchema.safeParse({
      build_id: form.build_id,
      wifi_only: form.wifi_only,
      not_in_call: form.not_in_call,
      rollout_percent: num(form.rollout_percent),
      min_battery_pct: num(form.min_battery_pct),
      failure_threshold_pct: num(form.failure_threshold_pct),
      failure_min_devices: num(form.failure_min_devices),
    });
    if (!parsed.success) {
      const errs: Record<string, string> = {};
      for (const i of parsed.error.issues) errs[String(i.path[0])] ??= i.message;
      setErrors(errs);
      return;
    }
    setErrors({});
    create.mutate(parsed.data);
  };

  return (
    <Dialog open={open} onOpenChange={(o) => (o ? onOpenChange(true) : !create.isPending && finish())}>
      <DialogContent className="max-w-xl">
        <DialogHeader>
          <DialogTitle>New release</DialogTitle>
          <DialogDescription>A draft for the build's channel. Nothing is offered until you promote it.</DialogDescription>
        </DialogHeader>
        <form className="space-y-4" onSubmit={submit} noValidate>
          <FormField id={id("build")} label="Build" error={errors.build_id}>
            <Select value={form.build_id} onValueChange={(v) => setForm({ ...form, build_id: v })} disabled={builds.isPending}>
              <SelectTrigger id={id("build")} {...invalidProps(id("build"), errors.build_id)}>
                <SelectValue placeholder={builds.isPending ? "Loading builds…" : "Choose an uploaded build"} />
              </SelectTrigger>
              <SelectContent>
                {(builds.data ?? []).map((b) => (
                  <SelectItem key={b.id} value={b.id}>
                    {b.package} {b.version_name || "—"} (code {b.version_code}) · {b.channel}
                  </SelectItem>
                ))}
              </SelectContent>
            </Select>
          </FormField>
          {builds.data?.length === 0 && (
            <p className="text-sm text-muted-foreground">
              No uploaded builds yet. <Link to="/apk" className="text-primary underline underline-offset-4">Upload one</Link>{" "}
              first.
            </p>
          )}
          <div className="grid gap-4 sm:grid-cols-2">
            {NUMBERS.map((n) => (
              <FormField key={n.key} id={id(n.key)} label={n.label} error={errors[n.key]} hint={n.hint}>
                <Input
                  id={id(n.key)}
                  type="number"
                  inputMode="numeric"
                  value={form[n.key]}
                  onChange={(e) => setForm({ ...form, [n.key]: e.target.value })}
                  {...invalidProps(id(n.key), errors[n.key])}
                />
              </FormField>
            ))}
          </div>
          <div className="flex flex-wrap gap-6">
            <div className="flex items-center gap-2">
              <Switch id={id("wifi")} checked={form.wifi_only} onCheckedChange={(c) => setForm({ ...form, wifi_only: c })} />
              <Label htmlFor={id("wifi")}>Wi-Fi only</Label>
            </div>
            <div className="flex items-center gap-2">
              <Switch id={id("call")} checked={form.not_in_call} onCheckedChange={(c) => setForm({ ...form, not_in_call: c })} />
              <Label htmlFor={id("call")}>Not during a call</Label>
            </div>
          </div>
          <DialogFooter>
            <Button type="button" variant="outline" onClick={finish} disabled={create.isPending}>
              Cancel
            </Button>
            <Button type="submit" disabled={create.isPending}>
              {create.isPending && <Loader2 className="animate-spin" aria-hidden />}
              Create draft
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}

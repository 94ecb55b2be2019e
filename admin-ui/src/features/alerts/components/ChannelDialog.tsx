import { useId, useState } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
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
import { alertKeys, createChannel, updateChannel } from "../api";
import {
  CHANNEL_KINDS,
  channelFormSchema,
  SEVERITIES,
  splitList,
  type AlertChannel,
  type ChannelForm,
  type ChannelRequest,
} from "../schema";

const KIND_LABELS = { discord: "Discord", webhook: "Signed webhook", email: "Email (SMTP)" } as const;

function initial(ch?: AlertChannel | null): ChannelForm {
  return {
    name: ch?.name ?? "",
    kind: ch?.kind ?? "discord",
    url: "",
    secret: "",
    email_from: ch?.email_from ?? "",
    email_to: (ch?.email_to ?? []).join(", "),
    min_severity: ch?.min_severity ?? "warning",
    enabled: ch?.enabled ?? true,
  };
}

/** The request for a form: everything on create; on edit, only what changed (blank URL/secret: keep). */
export function toChannelRequest(f: ChannelForm, ch?: AlertChannel | null): ChannelRequest {
  const to = splitList(f.email_to);
  if (!ch) {
    const req: ChannelRequest = { name: f.name, kind: f.kind, url: f.url, min_severity: f.min_severity, enabled: f.enabled };
    if (f.kind === "webhook" && f.secret) req.secret = f.secret;
    if (f.kind === "email") {
      req.email_from = f.email_from.trim();
      req.email_to = to;
    }
    return req;
  }
  const req: ChannelRequest = {};
  if (f.name !== ch.name) req.name = f.name;
  if (f.url) req.url = f.url;
  if (f.kind === "webhook" && f.secret) req.secret = f.secret;
  if (f.kind === "email") {
    if (f.email_from.trim() !== (ch.email_from ?? "")) req.email_from = f.email_from.trim();
    if (to.join(",") !== (ch.email_to ?? []).join(",")) req.email_to = to;
  }
  if (f.min_severity !== ch.min_severity) req.min_severity = f.min_severity;
  if (f.enabled !== ch.enabled) req.enabled = f.enabled;
  return req;
}

/** Add a channel, or change one (`channel`). The server never shows a URL or secret back. */
export function ChannelDialog({
  open,
  onOpenChange,
  channel,
}: {
  open: boolean;
  onOpenChange: (o: boolean) => void;
  channel?: AlertChannel | null;
}) {
  const qc = useQueryClient();
  const editing = Boolean(channel);
  const [form, setForm] = useState<ChannelForm>(() => initial(channel));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const base = useId();
  const id = (k: string) => `${base}-${k}`;

  const finish = () => {
    setErrors({});
    onOpenChange(false);
  };
  const save = useMutation({
    mutationFn: (req: ChannelRequest) => (channel ? updateChannel(channel.id, req) : createChannel(req)),
    meta: { errorTitle: editing ? "Could not save the channel" : "Could not add the channel" },
    onSuccess: (c) => {
      toast.success(editing ? `Saved ${c.name}` : `Added ${c.name}`);
      void qc.invalidateQueries({ queryKey: alertKeys.channels });
      finish();
    },
    onError: (e) => {
      if (isApiError(e) && e.field) setErrors({ [e.field]: e.message });
    },
  });

  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const parsed = channelFormSchema.safeParse(form);
    const errs: Record<string, string> = {};
    if (!parsed.success) for (const i of parsed.error.issues) errs[String(i.path[0])] ??= i.message;
    if (!editing && form.url.trim() === "") errs.url ??= form.kind === "email" ? "Enter the SMTP server URL" : "Enter the webhook URL";
    if (form.kind === "email" && splitList(form.email_to).length === 0) errs.email_to ??= "List at least one recipient";
    setErrors(errs);
    if (Object.keys(errs).length > 0) return;
    const req = toChannelRequest(form, channel);
    if (editing && Object.keys(req).length === 0) {
      finish();
      return;
    }
    save.mutate(req);
  };

  const set = <K extends keyof ChannelForm>(k: K, v: ChannelForm[K]) => setForm((f) => ({ ...f, [k]: v }));
  const urlLabel = form.kind === "email" ? "SMTP server URL" : "Webhook URL";
  const urlHint =
    form.kind === "email"
      ? "smtp://user:password@host:587 or smtps://…:465."
      : form.kind === "discord"
        ? "The Discord channel's webhook URL."
        : "Where to POST the signed JSON.";

  return (
    <Dialog open={open} onOpenChange={(o) => (o ? onOpenChange(true) : !save.isPending && finish())}>
      <DialogContent className="max-w-xl">
        <DialogHeader>
          <DialogTitle>{editing ? `Edit ${channel?.name}` : "Add alert channel"}</DialogTitle>
          <DialogDescription>
            {editing
              ? "Leave the URL and secret empty to keep them; they are never shown again."
              : "Alerts at or above the minimum severity go to every enabled channel, unless a rule names its channels."}
          </DialogDescription>
        </DialogHeader>
        <form className="space-y-4" onSubmit={submit} noValidate>
          <div className="grid gap-4 sm:grid-cols-2">
            <FormField id={id("name")} label="Name" error={errors.name} hint="Lowercase letters, digits, - or _.">
              <Input
                id={id("name")}
                value={form.name}
                maxLength={32}
                autoComplete="off"
                onChange={(e) => set("name", e.target.value)}
                {...invalidProps(id("name"), errors.name)}
              />
            </FormField>
            <FormField id={id("kind")} label="Kind" error={errors.kind} hint={editing ? "The kind cannot change." : undefined}>
              <Select value={form.kind} onValueChange={(v) => set("kind", v as ChannelForm["kind"])} disabled={editing}>
                <SelectTrigger id={id("kind")}>
                  <SelectValue />
                </SelectTrigger>
                <SelectContent>
                  {CHANNEL_KINDS.map((k) => (
                    <SelectItem key={k} value={k}>
                      {KIND_LABELS[k]}
                    </SelectItem>
                  ))}
                </SelectContent>
              </Select>
            </FormField>
          </div>
          <FormField
            id={id("url")}
            label={urlLabel}
            error={errors.url}
            hint={editing ? `Now ${channel?.target || "set"}. ${urlHint}` : urlHint}
          >
            <Input
              id={id("url")}
              type={form.kind === "email" ? "text" : "url"}
              value={form.url}
              autoComplete="off"
              spellCheck={false}
              placeholder={editing ? "unchanged" : undefined}
              onChange={(e) => set("url", e.target.value)}
              {...invalidProps(id("url"), errors.url)}
            />
          </FormField>
          {form.kind === "webhook" && (
            <FormField
              id={id("secret")}
              label="Signing secret"
              error={errors.secret}
              hint={editing && channel?.has_secret ? "Set; leave empty to keep it." : "The HMAC key receivers verify with."}
            >
              <Input
                id={id("secret")}
                type="password"
                autoComplete="new-password"
                value={form.secret}
                onChange={(e) => set("secret", e.target.value)}
                {...invalidProps(id("secret"), errors.secret)}
              />
            </FormField>
          )}
          {form.kind === "email" && (
            <div className="grid gap-4 sm:grid-cols-2">
              <FormField id={id("from")} label="From address" error={errors.email_from}>
                <Input
                  id={id("from")}
                  type="email"
                  value={form.email_from}
                  onChange={(e) => set("email_from", e.target.value)}
                  {...invalidProps(id("from"), errors.email_from)}
                />
              </FormField>
              <FormField id={id("to")} label="Recipients" error={errors.email_to} hint="Separated by commas.">
                <Input
                  id={id("to")}
                  value={form.email_to}
                  onChange={(e) => set("email_to", e.target.value)}
                  {...invalidProps(id("to"), errors.email_to)}
                />
              </FormField>
            </div>
          )}
          <div className="grid gap-4 sm:grid-cols-2">
            <FormField id={id("sev")} label="Minimum severity" error={errors.min_severity}>
              <Select value={form.min_severity} onValueChange={(v) => set("min_severity", v as ChannelForm["min_severity"])}>
                <SelectTrigger id={id("sev")}>
                  <SelectValue />
                </SelectTrigger>
                <SelectContent>
                  {SEVERITIES.map((s) => (
                    <SelectItem key={s} value={s}>
                      {s}
                    </SelectItem>
                  ))}
                </SelectContent>
              </Select>
            </FormField>
            <div className="flex items-center gap-2 pt-6">
              <Switch id={id("enabled")} checked={form.enabled} onCheckedChange={(c) => set("enabled", c)} />
              <Label htmlFor={id("enabled")}>Enabled</Label>
            </div>
          </div>
          <DialogFooter>
            <Button type="button" variant="outline" onClick={finish} disabled={save.isPending}>
              Cancel
            </Button>
            <Button type="submit" disabled={save.isPending}>
              {save.isPending && <Loader2 className="animate-spin" aria-hidden />}
              {editing ? "Save channel" : "Add channel"}
            </Button>
          </DialogFooter>
        </form>
      </DialogContent>
    </Dialog>
  );
}

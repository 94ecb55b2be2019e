import { useId, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { KeyRound, Loader2, ShieldAlert } from "lucide-react";
import { toast } from "sonner";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { CopyButton } from "@/components/ui/copy-button";
import { Dialog, DialogContent, DialogDescription, DialogFooter, DialogHeader, DialogTitle } from "@/components/ui/dialog";
import { FormField, invalidProps } from "@/components/ui/form-field";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { isApiError } from "@/lib/api";
import { formatDateTime, timeAgo } from "@/lib/format";
import { createAPIKey, listAPIKeys, revokeAPIKey, settingsKeys } from "../api";
import { createAPIKeySchema, keyState, SCOPE_HELP, SCOPES, type APIKey, type CreatedAPIKey, type Scope } from "../schema";

/** Named API keys for CI and scripts: create (the key is shown once), revoke. */
export function ApiKeysPanel() {
  const qc = useQueryClient();
  const keys = useQuery({ queryKey: settingsKeys.keys, queryFn: listAPIKeys });
  const [creating, setCreating] = useState(false);
  const [revoking, setRevoking] = useState<APIKey | null>(null);
  const revoke = useMutation({
    mutationFn: (k: APIKey) => revokeAPIKey(k.id),
    meta: { errorTitle: "Could not revoke the key" },
    onSuccess: (_r, k) => {
      toast.success(`Revoked ${k.name}`);
      setRevoking(null);
      void qc.invalidateQueries({ queryKey: settingsKeys.keys });
    },
  });

  return (
    <section aria-labelledby="keys-title" className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="keys-title" className="text-lg font-semibold">
          API keys
        </h2>
        <Button onClick={() => setCreating(true)}>
          <KeyRound aria-hidden />
          Create API key
        </Button>
      </div>
      <p className="text-sm text-muted-foreground">
        For CI and scripts: send as <code className="font-mono">Authorization: Bearer nxk_…</code>. The key is shown
        once, when it is created.
      </p>
      {keys.isPending ? (
        <LoadingState label="Loading API keys" />
      ) : keys.isError ? (
        <ErrorState error={keys.error} onRetry={() => void keys.refetch()} />
      ) : keys.data.length === 0 ? (
        <EmptyState title="No API keys" description="Create one for CI to upload APK builds, or for enrollment tooling." />
      ) : (
        <div className="rounded-xl border">
          <Table aria-label="API keys">
            <TableHeader>
              <TableRow>
                <TableHead scope="col">Name</TableHead>
                <TableHead scope="col">Key</TableHead>
                <TableHead scope="col">Scopes</TableHead>
                <TableHead scope="col">State</TableHead>
                <TableHead scope="col" className="hidden lg:table-cell">
                  Created
                </TableHead>
                <TableHead scope="col" className="hidden md:table-cell">
                  Expires
                </TableHead>
                <TableHead scope="col" className="hidden md:table-cell">
                  Last used
                </TableHead>
                <TableHead scope="col" className="text-right">
                  <span className="sr-only">Actions</span>
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {keys.data.map((k) => {
                const state = keyState(k);
                return (
                  <TableRow key={k.id}>
                    <TableCell className="font-medium">{k.name}</TableCell>
                    <TableCell className="font-mono text-xs">nxk_{k.prefix}_…</TableCell>
                    <TableCell>
                      <div className="flex flex-wrap gap-1">
                        {k.scopes.map((s) => (
                          <Badge key={s} variant="outline">
                            {s}
                          </Badge>
                        ))}
                      </div>
                    </TableCell>
                    <TableCell>
                      <Badge variant={state === "active" ? "success" : "secondary"}>{state}</Badge>
                    </TableCell>
                    <TableCell className="hidden lg:table-cell" title={formatDateTime(k.created_at)}>
                      {timeAgo(k.created_at)} <span className="text-xs text-muted-foreground">by {k.created_by}</span>
                    </TableCell>
                    <TableCell className="hidden md:table-cell">
                      {k.expires_at ? formatDateTime(k.expires_at) : "never"}
                    </TableCell>
                    <TableCell className="hidden md:table-cell" title={formatDateTime(k.last_used_at)}>
                      {timeAgo(k.last_used_at)}
                    </TableCell>
                    <TableCell className="text-right">
                      {state !== "revoked" && (
                        <Button variant="outline" size="sm" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
                          Revoke
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                );
              })}
            </TableBody>
          </Table>
        </div>
      )}
      <CreateKeyDialog open={creating} onOpenChange={setCreating} />
      <ConfirmDialog
        open={revoking !== null}
        onOpenChange={(o) => !o && setRevoking(null)}
        title={`Revoke ${revoking?.name ?? "key"}?`}
        description="It stops working at once, for everything that uses it. This cannot be undone."
        confirmLabel="Revoke key"
        destructive
        pending={revoke.isPending}
        onConfirm={() => revoking && revoke.mutate(revoking)}
      />
    </section>
  );
}

const emptyForm = { name: "", scopes: [] as Scope[], expires: "0" };

function CreateKeyDialog({ open, onOpenChange }: { open: boolean; onOpenChange: (o: boolean) => void }) {
  const qc = useQueryClient();
  const [form, setForm] = useState(emptyForm);
  const [errors, setErrors] = useState<Record<string, string>>({});
  // The new key lives only in this state, and only until the dialog closes.
  const [created, setCreated] = useState<CreatedAPIKey | null>(null);
  const ids = { name: useId(), expires: useId(), scopes: useId() };
  const create = useMutation({
    mutationFn: createAPIKey,
    gcTime: 0, // the answer holds the key: drop it from the mutation cache at once
    meta: { errorTitle: "Could not create the key" },
    onSuccess: (c) => {
      setCreated(c);
      void qc.invalidateQueries({ queryKey: settingsKeys.keys });
    },
    onError: (e) => {
      if (isApiError(e) && e.field) setErrors({ [e.field]: e.message });
    },
  });
  const close = (o: boolean) => {
    if (!o) {
      setCreated(null);
      setForm(emptyForm);
      setErrors({});
      create.reset();
    }
    onOpenChange(o);
  };
  const submit = (ev: React.FormEvent) => {
    ev.preventDefault();
    const parsed = createAPIKeySchema.safeParse({
      name: form.name,
      scopes: form.scopes,
      expires_in_hours: form.expires.trim() === "" ? 0 : Number(form.expires),
    });
    if (!parsed.success) {
      setErrors(Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0]), i.message])));
      return;
    }
    setErrors({});
    create.mutate(parsed.data);
  };
  const toggle = (s: Scope, on: boolean) =>
    setForm((f) => ({ ...f, scopes: on ? [...f.scopes, s] : f.scopes.filter((x) => x !== s) }));

  return (
    <Dialog open={open} onOpenChange={close}>
      <DialogContent
        // Keep the one-time key from vanishing on a stray click outside.
        onInteractOutside={(e) => created && e.preventDefault()}
      >
        {created ? (
          <>
            <DialogHeader>
              <DialogTitle>Copy the key for {created.api_key.name}</DialogTitle>
              <DialogDescription>
                This is the only time it is shown. Store it in your CI's secrets now; if it is lost, revoke it and
                create another.
              </DialogDescription>
            </DialogHeader>
            <div className="space-y-2">
              <Label htmlFor={`${ids.name}-key`}>API key</Label>
              <div className="flex gap-2">
                <Input
                  id={`${ids.name}-key`}
                  readOnly
                  value={created.key}
                  className="font-mono text-xs"
                  data-testid="new-api-key"
                  onFocus={(e) => e.currentTarget.select()}
                />
                <CopyButton value={created.key} label="API key" />
              </div>
              <p className="flex items-center gap-1.5 text-xs text-muted-foreground">
                <ShieldAlert className="size-3.5" aria-hidden />
                Scopes: {created.api_key.scopes.join(", ")}; expires{" "}
                {created.api_key.expires_at ? formatDateTime(created.api_key.expires_at) : "never"}.
              </p>
            </div>
            <DialogFooter>
              <Button onClick={() => close(false)}>I have copied it</Button>
            </DialogFooter>
          </>
        ) : (
          <>
            <DialogHeader>
              <DialogTitle>Create API key</DialogTitle>
              <DialogDescription>A named key with the scopes it needs, for CI or scripts.</DialogDescription>
            </DialogHeader>
            <form className="space-y-4" onSubmit={submit} noValidate>
              <FormField id={ids.name} label="Name" error={errors.name} hint="Such as ci or enroll-station-2.">
                <Input
                  id={ids.name}
                  value={form.name}
                  maxLength={100}
                  autoComplete="off"
                  onChange={(e) => setForm({ ...form, name: e.target.value })}
                  {...invalidProps(ids.name, errors.name)}
                />
              </FormField>
              <fieldset className="space-y-2" aria-describedby={errors.scopes ? `${ids.scopes}-error` : undefined}>
                <legend className="text-sm font-medium">Scopes</legend>
                {SCOPES.map((s) => (
                  <div key={s} className="flex items-center gap-2">
                    <Checkbox
                      id={`${ids.scopes}-${s}`}
                      checked={form.scopes.includes(s)}
                      onCheckedChange={(c) => toggle(s, c === true)}
                    />
                    <Label htmlFor={`${ids.scopes}-${s}`} className="font-normal">
                      <span className="font-mono">{s}</span>{" "}
                      <span className="text-muted-foreground">— {SCOPE_HELP[s]}</span>
                    </Label>
                  </div>
                ))}
                {errors.scopes && (
                  <p id={`${ids.scopes}-error`} className="text-xs text-destructive">
                    {errors.scopes}
                  </p>
                )}
              </fieldset>
              <FormField
                id={ids.expires}
                label="Expires in (hours)"
                error={errors.expires_in_hours}
                hint="0 never expires; at most 8784 (a year)."
              >
                <Input
                  id={ids.expires}
                  type="number"
                  inputMode="numeric"
                  min={0}
                  max={8784}
                  value={form.expires}
                  onChange={(e) => setForm({ ...form, expires: e.target.value })}
                  {...invalidProps(ids.expires, errors.expires_in_hours)}
                />
              </FormField>
              <DialogFooter>
                <Button type="button" variant="outline" onClick={() => close(false)}>
                  Cancel
                </Button>
                <Button type="submit" disabled={create.isPending}>
                  {create.isPending && <Loader2 className="animate-spin" aria-hidden />}
                  Create key
                </Button>
              </DialogFooter>
            </form>
          </>
        )}
      </DialogContent>
    </Dialog>
  );
}

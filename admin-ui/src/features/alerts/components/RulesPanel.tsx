import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Loader2 } from "lucide-react";
import { toast } from "sonner";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Checkbox } from "@/components/ui/checkbox";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Switch } from "@/components/ui/switch";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useCan } from "@/lib/auth";
import { alertKeys, listChannels, listRules, putRule } from "../api";
import { SEVERITIES, type AlertChannel, type AlertRule, type Severity } from "../schema";
import { RULE_LABELS, severityVariant } from "./AlertsList";

const RULE_HELP: Record<string, string> = {
  offline: "A device stopped sending heartbeats.",
  low_battery: "A device's battery fell below its threshold.",
  service_down: "A monitored app has not been in the foreground.",
  release_failures: "Too many devices failed to install an OTA release.",
};

/** Each rule's severity, whether it sends, and where to. */
export function RulesPanel() {
  const canManage = useCan("manage");
  const rules = useQuery({ queryKey: alertKeys.rules, queryFn: listRules });
  const channels = useQuery({ queryKey: alertKeys.channels, queryFn: listChannels, enabled: canManage });

  return (
    <section aria-labelledby="rules-title" className="space-y-3">
      <h2 id="rules-title" className="text-lg font-semibold">
        Rules
      </h2>
      <p className="text-sm text-muted-foreground">
        With no channels chosen, a rule goes to every enabled channel whose minimum severity it reaches. A disabled rule
        is still recorded and shown here, never sent.
      </p>
      {rules.isPending ? (
        <LoadingState label="Loading rules" />
      ) : rules.isError ? (
        <ErrorState error={rules.error} onRetry={() => void rules.refetch()} />
      ) : rules.data.length === 0 ? (
        <EmptyState title="No rules" />
      ) : (
        <div className="rounded-xl border">
          <Table aria-label="Alert rules">
            <TableHeader>
              <TableRow>
                <TableHead scope="col">Rule</TableHead>
                <TableHead scope="col" className="w-40">
                  Severity
                </TableHead>
                <TableHead scope="col">Sends</TableHead>
                <TableHead scope="col">Channels</TableHead>
                {canManage && (
                  <TableHead scope="col" className="text-right">
                    <span className="sr-only">Actions</span>
                  </TableHead>
                )}
              </TableRow>
            </TableHeader>
            <TableBody>
              {rules.data.map((r) =>
                canManage ? (
                  <EditableRule key={`${r.rule}:${r.severity}:${r.enabled}:${r.channels.join()}`} rule={r} channels={channels.data ?? []} />
                ) : (
                  <TableRow key={r.rule}>
                    <RuleName rule={r.rule} />
                    <TableCell>
                      <Badge variant={severityVariant(r.severity)}>{r.severity}</Badge>
                    </TableCell>
                    <TableCell>{r.enabled ? "yes" : "no"}</TableCell>
                    <TableCell className="text-sm">{r.channels.length ? r.channels.join(", ") : "by severity"}</TableCell>
                  </TableRow>
                ),
              )}
            </TableBody>
          </Table>
        </div>
      )}
    </section>
  );
}

function RuleName({ rule }: { rule: string }) {
  return (
    <TableCell>
      <div className="font-medium">{RULE_LABELS[rule] ?? rule}</div>
      <div className="text-xs text-muted-foreground">{RULE_HELP[rule]}</div>
    </TableCell>
  );
}

function EditableRule({ rule, channels }: { rule: AlertRule; channels: AlertChannel[] }) {
  const qc = useQueryClient();
  const [draft, setDraft] = useState(rule);
  const dirty =
    draft.severity !== rule.severity ||
    draft.enabled !== rule.enabled ||
    [...draft.channels].sort().join() !== [...rule.channels].sort().join();
  const save = useMutation({
    mutationFn: putRule,
    meta: { errorTitle: `Could not save the ${RULE_LABELS[rule.rule] ?? rule.rule} rule` },
    onSuccess: (saved) => {
      toast.success(`Saved the ${RULE_LABELS[saved.rule] ?? saved.rule} rule`);
      qc.setQueryData<AlertRule[]>(alertKeys.rules, (old) => old?.map((x) => (x.rule === saved.rule ? saved : x)));
    },
  });
  const label = RULE_LABELS[rule.rule] ?? rule.rule;
  // Channels the rule names that are gone still show, so they can be unticked.
  const names = [...new Set([...channels.map((c) => c.name), ...draft.channels])];
  return (
    <TableRow>
      <RuleName rule={rule.rule} />
      <TableCell>
        <Select value={draft.severity} onValueChange={(v) => setDraft({ ...draft, severity: v as Severity })}>
          <SelectTrigger aria-label={`${label} severity`} className="h-8">
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
      </TableCell>
      <TableCell>
        <Switch
          checked={draft.enabled}
          onCheckedChange={(c) => setDraft({ ...draft, enabled: c })}
          aria-label={`${label} sends notifications`}
        />
      </TableCell>
      <TableCell>
        {names.length === 0 ? (
          <span className="text-sm text-muted-foreground">by severity (no channels yet)</span>
        ) : (
          <fieldset className="flex flex-wrap gap-x-3 gap-y-1">
            <legend className="sr-only">{label} channels</legend>
            {names.map((n) => {
              const cid = `rule-${rule.rule}-ch-${n}`;
              return (
                <div key={n} className="flex items-center gap-1.5">
                  <Checkbox
                    id={cid}
                    checked={draft.channels.includes(n)}
                    onCheckedChange={(c) =>
                      setDraft({
                        ...draft,
                        channels: c === true ? [...draft.channels, n] : draft.channels.filter((x) => x !== n),
                      })
                    }
                  />
                  <Label htmlFor={cid} className="font-normal">
                    {n}
                  </Label>
                </div>
              );
            })}
          </fieldset>
        )}
      </TableCell>
      <TableCell className="text-right">
        <Button size="sm" disabled={!dirty || save.isPending} onClick={() => save.mutate(draft)} aria-label={`Save ${label} rule`}>
          {save.isPending && <Loader2 className="animate-spin" aria-hidden />}
          Save
        </Button>
      </TableCell>
    </TableRow>
  );
}

import { Fragment, useId, useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { ChevronDown, ChevronRight, Loader2 } from "lucide-react";
import { EmptyState, ErrorState, LoadingState } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { FormField } from "@/components/ui/form-field";
import { Input } from "@/components/ui/input";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { formatDateTime } from "@/lib/format";
import { listAudit, settingsKeys } from "../api";
import type { AuditEntry, AuditFilters } from "../schema";

const TEXT_FILTERS = [
  { key: "actor", label: "Actor", placeholder: "e.g. user:alice or key:ci" },
  { key: "action", label: "Action", placeholder: "e.g. device.delete" },
  { key: "target", label: "Target", placeholder: "e.g. a device id" },
  { key: "result", label: "Result", placeholder: "ok or an error code" },
] as const;

type Draft = Record<(typeof TEXT_FILTERS)[number]["key"] | "from" | "to", string>;
const emptyDraft: Draft = { actor: "", action: "", target: "", result: "", from: "", to: "" };

/** A datetime-local value ("2025-03-01T13:00") in the browser's zone as RFC 3339, or undefined. */
export function localToRFC3339(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function toFilters(d: Draft): AuditFilters {
  const f: AuditFilters = {};
  for (const { key } of TEXT_FILTERS) if (d[key].trim()) f[key] = d[key].trim();
  const from = localToRFC3339(d.from);
  const to = localToRFC3339(d.to);
  if (from) f.from = from;
  if (to) f.to = to;
  return f;
}

/** The audit log: exact-match filters, newest first, a page at a time. */
export function AuditPanel() {
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [filters, setFilters] = useState<AuditFilters>({});
  const [open, setOpen] = useState<Set<number>>(new Set());
  const base = useId();
  const audit = useInfiniteQuery({
    queryKey: settingsKeys.audit(filters),
    queryFn: ({ pageParam, signal }) => listAudit(filters, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const entries = audit.data?.pages.flatMap((p) => p.entries) ?? [];
  const toggle = (id: number) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  return (
    <section aria-labelledby="audit-title" className="space-y-3">
      <h2 id="audit-title" className="text-lg font-semibold">
        Audit log
      </h2>
      <form
        aria-label="Audit filters"
        className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(toFilters(draft));
        }}
      >
        {TEXT_FILTERS.map((f) => (
          <FormField key={f.key} id={`${base}-${f.key}`} label={f.label}>
            <Input
              id={`${base}-${f.key}`}
              value={draft[f.key]}
              placeholder={f.placeholder}
              maxLength={200}
              onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
            />
          </FormField>
        ))}
        <FormField id={`${base}-from`} label="From">
          <Input
            id={`${base}-from`}
            type="datetime-local"
            value={draft.from}
            onChange={(e) => setDraft({ ...draft, from: e.target.value })}
          />
        </FormField>
        <FormField id={`${base}-to`} label="To">
          <Input
            id={`${base}-to`}
            type="datetime-local"
            value={draft.to}
            onChange={(e) => setDraft({ ...draft, to: e.target.value })}
          />
        </FormField>
        <div className="flex flex-wrap items-center gap-2 sm:col-span-2 lg:col-span-3">
          <Button type="submit">Apply filters</Button>
          <Button
            type="button"
            variant="outline"
            onClick={() => {
              setDraft(emptyDraft);
              setFilters({});
            }}
          >
            Reset
          </Button>
          <span className="text-xs text-muted-foreground">Filters match whole values exactly; times are in your time zone.</span>
        </div>
      </form>

      {audit.isPending ? (
        <LoadingState label="Loading the audit log" />
      ) : audit.isError ? (
        <ErrorState error={audit.error} onRetry={() => void audit.refetch()} />
      ) : entries.length === 0 ? (
        <EmptyState title="No entries" description="Nothing in the audit log matches these filters." />
      ) : (
        <div className="rounded-xl border">
          <Table aria-label="Audit log">
            <TableHeader>
              <TableRow>
                <TableHead scope="col" className="w-10">
                  <span className="sr-only">Details</span>
                </TableHead>
                <TableHead scope="col">Time</TableHead>
                <TableHead scope="col">Actor</TableHead>
                <TableHead scope="col">Action</TableHead>
                <TableHead scope="col" className="hidden md:table-cell">
                  Target
                </TableHead>
                <TableHead scope="col">Result</TableHead>
                <TableHead scope="col" className="hidden lg:table-cell">
                  Source IP
                </TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {entries.map((e) => (
                <AuditRow key={e.id} entry={e} expanded={open.has(e.id)} onToggle={() => toggle(e.id)} />
              ))}
            </TableBody>
          </Table>
        </div>
      )}
      {audit.hasNextPage && (
        <div className="flex justify-center">
          <Button variant="outline" onClick={() => void audit.fetchNextPage()} disabled={audit.isFetchingNextPage}>
            {audit.isFetchingNextPage && <Loader2 className="animate-spin" aria-hidden />}
            Load more
          </Button>
        </div>
      )}
    </section>
  );
}

function AuditRow({ entry: e, expanded, onToggle }: { entry: AuditEntry; expanded: boolean; onToggle: () => void }) {
  const detailsId = `audit-details-${e.id}`;
  const hasDetails = e.details && Object.keys(e.details).length > 0;
  return (
    <Fragment>
      <TableRow>
        <TableCell>
          <Button
            variant="ghost"
            size="icon"
            className="size-7"
            aria-expanded={expanded}
            aria-controls={detailsId}
            aria-label={`Details of entry ${e.id}`}
            onClick={onToggle}
          >
            {expanded ? <ChevronDown aria-hidden /> : <ChevronRight aria-hidden />}
          </Button>
        </TableCell>
        <TableCell className="whitespace-nowrap">
          <time dateTime={e.at}>{formatDateTime(e.at)}</time>
        </TableCell>
        <TableCell className="font-mono text-xs">{e.actor}</TableCell>
        <TableCell className="font-mono text-xs">{e.action}</TableCell>
        <TableCell className="hidden max-w-48 truncate font-mono text-xs md:table-cell" title={e.target}>
          {e.target || "—"}
        </TableCell>
        <TableCell>
          <Badge variant={e.result === "ok" ? "success" : "destructive"}>{e.result}</Badge>
        </TableCell>
        <TableCell className="hidden font-mono text-xs lg:table-cell">{e.source_ip}</TableCell>
      </TableRow>
      {expanded && (
        <TableRow id={detailsId} className="hover:bg-transparent">
          <TableCell colSpan={7} className="bg-muted/40">
            <div className="mb-1 text-xs text-muted-foreground md:hidden">Target: {e.target || "—"}</div>
            {hasDetails ? (
              <pre className="overflow-auto whitespace-pre-wrap break-all font-mono text-xs">
                {JSON.stringify(e.details, null, 2)}
              </pre>
            ) : (
              <span className="text-xs text-muted-foreground">No details.</span>
            )}
          </TableCell>
        </TableRow>
      )}
    </Fragment>
  );
}

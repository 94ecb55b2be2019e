import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Plus } from "lucide-react";
import { EmptyState, ErrorState, LoadingState, PageHeader } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from "@/components/ui/table";
import { useCan } from "@/lib/auth";
import { formatDateTime, timeAgo } from "@/lib/format";
import { useFeedEvent } from "@/lib/ws";
import { listReleases, releaseKeys } from "./api";
import { CreateReleaseDialog } from "./components/CreateReleaseDialog";
import { ReleaseDetail } from "./components/ReleaseDetail";
import { StatusBadge } from "./components/StatusBadge";

/** OTA releases: create from a build, promote, roll out, pause, roll back, watch adoption. */
export default function ReleasesPage() {
  const canManage = useCan("manage");
  const qc = useQueryClient();
  const releases = useQuery({ queryKey: releaseKeys.list, queryFn: listReleases });
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);

  // Changes made elsewhere (another admin, the automatic pause) arrive on the feed.
  useFeedEvent("*", (e) => {
    if (!e.type.startsWith("release.")) return;
    void qc.invalidateQueries({ queryKey: releaseKeys.all });
  });

  const items = releases.data ?? [];
  const current =
    items.find((r) => r.id === selected) ?? items.find((r) => r.status === "active" || r.status === "paused") ?? items[0];

  return (
    <div className="space-y-4">
      <PageHeader
        title="OTA releases"
        description="Roll agent builds out to a share of each channel, watch them land, and stop or roll back."
        actions={
          canManage && (
            <Button onClick={() => setCreating(true)}>
              <Plus aria-hidden />
              New release
            </Button>
          )
        }
      />
      {releases.isPending ? (
        <LoadingState label="Loading releases" />
      ) : releases.isError ? (
        <ErrorState error={releases.error} onRetry={() => void releases.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState
          title="No releases yet"
          description={canManage ? "Create a release from an uploaded build, then promote it." : "An admin creates releases from uploaded builds."}
        />
      ) : (
        <div className="grid gap-4 xl:grid-cols-[minmax(0,2fr)_minmax(0,3fr)]">
          <div className="self-start rounded-xl border">
            <Table aria-label="Releases">
              <TableHeader>
                <TableRow>
                  <TableHead scope="col">Version</TableHead>
                  <TableHead scope="col">Channel</TableHead>
                  <TableHead scope="col">Status</TableHead>
                  <TableHead scope="col" className="text-right">
                    Rollout
                  </TableHead>
                  <TableHead scope="col" className="hidden md:table-cell">
                    Created
                  </TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {items.map((r) => {
                  const isCurrent = r.id === current?.id;
                  return (
                    <TableRow key={r.id} data-state={isCurrent ? "selected" : undefined} className="cursor-pointer" onClick={() => setSelected(r.id)}>
                      <TableCell>
                        <button
                          type="button"
                          className="rounded-sm text-left font-medium underline-offset-4 hover:underline focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
                          aria-current={isCurrent ? "true" : undefined}
                          aria-label={`Show release ${r.version_name || r.version_code} on ${r.channel}`}
                          onClick={(e) => {
                            e.stopPropagation();
                            setSelected(r.id);
                          }}
                        >
                          {r.version_name || "—"}
                          <div className="text-xs font-normal text-muted-foreground">code {r.version_code}</div>
                        </button>
                      </TableCell>
                      <TableCell>{r.channel}</TableCell>
                      <TableCell>
                        <StatusBadge status={r.status} />
                      </TableCell>
                      <TableCell className="text-right tabular-nums">{r.rollout_percent}%</TableCell>
                      <TableCell className="hidden md:table-cell" title={formatDateTime(r.created_at)}>
                        {timeAgo(r.created_at)}
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </div>
          {current && <ReleaseDetail key={current.id} release={current} onChanged={setSelected} />}
        </div>
      )}
      <CreateReleaseDialog open={creating} onOpenChange={setCreating} onCreated={(r) => setSelected(r.id)} />
    </div>
  );
}

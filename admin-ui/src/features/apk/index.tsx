import { useId, useState } from "react";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { Loader2, Upload } from "lucide-react";
import { toast } from "sonner";
import { EmptyState, ErrorState, LoadingState, PageHeader } from "@/components/states";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Input } from "@/components/ui/input";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { useCan } from "@/lib/auth";
import { apkKeys, deleteBuild, downloadBuild, listBuilds, type BuildFilters } from "./api";
import { BuildsTable } from "./components/BuildsTable";
import { UploadDialog } from "./components/UploadDialog";
import type { Build } from "./schema";

type UploadedFilter = "all" | "yes" | "no";

/** The APK registry: list, upload, download, delete. */
export default function ApkPage() {
  const canUpload = useCan("apk:write");
  const canDelete = useCan("manage");
  const qc = useQueryClient();
  const base = useId();
  const [draft, setDraft] = useState({ package: "", channel: "" });
  const [uploaded, setUploaded] = useState<UploadedFilter>("all");
  const [applied, setApplied] = useState({ package: "", channel: "" });
  const [uploadOpen, setUploadOpen] = useState(false);
  const [resume, setResume] = useState<Build | null>(null);
  const [deleting, setDeleting] = useState<Build | null>(null);
  const [downloading, setDownloading] = useState<string | null>(null);

  const filters: BuildFilters = {
    package: applied.package || undefined,
    channel: applied.channel || undefined,
    uploaded: uploaded === "all" ? undefined : uploaded === "yes",
  };
  const builds = useInfiniteQuery({
    queryKey: apkKeys.list(filters),
    queryFn: ({ pageParam, signal }) => listBuilds(filters, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const items = builds.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = Boolean(filters.package || filters.channel || filters.uploaded !== undefined);

  const remove = useMutation({
    mutationFn: (b: Build) => deleteBuild(b.id),
    meta: { errorTitle: "Could not delete the build" },
    onSuccess: (_r, b) => {
      toast.success(`Deleted ${b.package} ${b.version_name || b.version_code}`);
      setDeleting(null);
      void qc.invalidateQueries({ queryKey: apkKeys.all });
    },
  });
  const download = useMutation({
    mutationFn: downloadBuild,
    meta: { errorTitle: "Download failed" },
    onMutate: (b) => setDownloading(b.id),
    onSettled: () => setDownloading(null),
  });

  return (
    <div className="space-y-4">
      <PageHeader
        title="APK builds"
        description="The agent and app builds devices install. CI usually registers and uploads them with an API key."
        actions={
          canUpload && (
            <Button
              onClick={() => {
                setResume(null);
                setUploadOpen(true);
              }}
            >
              <Upload aria-hidden />
              Upload build
            </Button>
          )
        }
      />

      <form
        aria-label="Build filters"
        className="flex flex-wrap items-end gap-3"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ package: draft.package.trim(), channel: draft.channel.trim() });
        }}
      >
        <div className="w-full space-y-1.5 sm:w-64">
          <Label htmlFor={`${base}-pkg`}>Package</Label>
          <Input
            id={`${base}-pkg`}
            value={draft.package}
            placeholder="com.nexmdm.agent"
            onChange={(e) => setDraft({ ...draft, package: e.target.value })}
          />
        </div>
        <div className="w-full space-y-1.5 sm:w-40">
          <Label htmlFor={`${base}-ch`}>Channel</Label>
          <Input
            id={`${base}-ch`}
            value={draft.channel}
            placeholder="stable"
            onChange={(e) => setDraft({ ...draft, channel: e.target.value })}
          />
        </div>
        <div className="w-full space-y-1.5 sm:w-40">
          <Label htmlFor={`${base}-up`}>File</Label>
<div>
          <Select value={uploaded} onValueChange={(v) => setUploaded(v as UploadedFilter)}>
            <SelectTrigger id={`${base}-up`}>
              <SelectValue />
            </SelectTrigger>
            <SelectContent>
              <SelectItem value="all">Any</SelectItem>
              <SelectItem value="yes">Uploaded</SelectItem>
              <SelectItem value="no">Not uploaded</SelectItem>
            </SelectContent>
          </Select>
          </div>
        </div>
        <Button type="submit" variant="secondary">
          Filter
        </Button>
      </form>

      {builds.isPending ? (
        <LoadingState label="Loading builds" />
      ) : builds.isError ? (
        <ErrorState error={builds.error} onRetry={() => void builds.refetch()} />
      ) : items.length === 0 ? (
        <EmptyState
          title={filtered ? "No builds match" : "No builds yet"}
          description={
            filtered
              ? "Change or clear the filters."
              : "Upload the agent APK here, or have CI register and upload it with an apk:write API key."
          }
        />
      ) : (
        <BuildsTable
          builds={items}
          canUpload={canUpload}
          canDelete={canDelete}
          downloading={downloading}
          onDownload={(b) => download.mutate(b)}
          onDelete={setDeleting}
          onResume={(b) => {
            setResume(b);
            setUploadOpen(true);
          }}
        />
      )}
      {builds.hasNextPage && (
        <div className="flex justify-center">
          <Button variant="outline" onClick={() => void builds.fetchNextPage()} disabled={builds.isFetchingNextPage}>
            {builds.isFetchingNextPage && <Loader2 className="animate-spin" aria-hidden />}
            Load more
          </Button>
        </div>
      )}

      <UploadDialog open={uploadOpen} onOpenChange={setUploadOpen} resume={resume} />
      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(o) => !o && setDeleting(null)}
        title={`Delete ${deleting ? `${deleting.package} ${deleting.version_name || deleting.version_code}` : "build"}?`}
        description="The build and its download history go; its file too, unless another build has the same SHA-256. A build a release uses cannot be deleted."
        confirmLabel="Delete build"
        destructive
        pending={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
      />
    </div>
  );
}

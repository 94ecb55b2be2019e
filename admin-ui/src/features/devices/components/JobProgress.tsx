import { useEffect, useRef } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { Progress } from "@/components/ui/progress";
import { LoadingState } from "@/components/states";
import { formatNumber } from "@/lib/format";
import { useFeedEvent } from "@/lib/ws";
import { deviceKeys, useJob } from "@/features/devices/api";
import { jobSchema, type Job } from "@/features/devices/schema";

const jobEventSchema = z.union([z.array(jobSchema), jobSchema]);

/** A bulk-delete job's progress: fetched once, then followed through job.* feed events. */
export function JobProgress({ jobId, onDone }: { jobId: string; onDone?: (job: Job) => void }) {
  const qc = useQueryClient();
  const job = useJob(jobId);

  useFeedEvent(["job.progress", "job.succeeded", "job.failed"], (e) => {
    const parsed = jobEventSchema.safeParse(e.data);
    if (!parsed.success) return;
    const jobs = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    for (const j of jobs) {
      if (j.id !== jobId) continue;
      qc.setQueryData(deviceKeys.job(jobId), j);
    }
  });

  // Tell the caller once, however the final state arrived (event or fetch).
  const done = useRef(false);
  const status = job.data?.status;
  useEffect(() => {
    if (done.current || !job.data || (status !== "succeeded" && status !== "failed")) return;
    done.current = true;
    onDone?.(job.data);
  }, [status, job.data, onDone]);

  if (!job.data) return <LoadingState label="Starting the job" />;
  const j = job.data;
  const pct = j.total > 0 ? (j.deleted / j.total) * 100 : 100;
  return (
    <div className="grid gap-2" data-testid="job-progress" data-status={j.status}>
      <div className="flex items-center justify-between text-sm">
        <span className="font-medium capitalize">{j.status}</span>
        <span className="tabular-nums text-muted-foreground">
          {formatNumber(j.deleted)} / {formatNumber(j.total)} deleted
        </span>
      </div>
      <Progress value={pct} label="Devices deleted" />
      {j.purge_history && (
        <p className="text-xs text-muted-foreground">
          History purged: {formatNumber(j.rows_purged)} rows in {j.partitions_purged?.length ?? 0} partitions
        </p>
      )}
      {j.status === "failed" && (
        <p role="alert" className="text-sm text-destructive">
          {j.error || "The job failed."}
        </p>
      )}
      {j.status === "succeeded" && (
        <p role="status" className="text-sm text-success">
          Done.
        </p>
      )}
    </div>
  );
}

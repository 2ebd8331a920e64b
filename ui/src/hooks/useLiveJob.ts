import { useCallback, useEffect } from "react";
import type { Job } from "@/api/client";
import { useJobChanges, type JobsChange } from "./useJobChanges";
import { useJobEvents } from "./useJobEvents";

const FINISHED: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/**
 * A job's events, live, and followed again when the job reopens after its stream ended: by a retry on
 * this page (call `resume`), or from anywhere else (another tab, `planwright retry`), which the jobs
 * changes stream reveals. That stream is open only while the job's own stream is over, so a job page
 * holds one SSE connection at a time (browsers allow six per host over HTTP/1.1, across all tabs).
 * `job` is the job as last read and `reloadJob` reads it again.
 */
export function useLiveJob(jobId: string, job: Job | undefined, reloadJob: () => void) {
  const live = useJobEvents(jobId);
  const { events, status, resume } = live;
  const ended = status === "ended";

  const onChange = useCallback(
    (change: JobsChange) => {
      if (change.jobIds.includes(jobId)) resume();
      else if (change.all) reloadJob(); // (re)connected: whatever happened meanwhile shows in the job
    },
    [jobId, resume, reloadJob],
  );
  useJobChanges(onChange, { enabled: ended });

  // The job, read after its last event, runs again: it was reopened while we were not listening.
  const last = events[events.length - 1];
  const reopened =
    ended &&
    job !== undefined &&
    last !== undefined &&
    !FINISHED.has(job.status) &&
    Date.parse(job.updated_at) > Date.parse(last.created_at);
  useEffect(() => {
    if (reopened) resume();
  }, [reopened, resume]);

  return live;
}

import { useEffect } from "react";
import type { Job } from "@/api/client";
import { useJobEvents } from "./useJobEvents";
import { useRefreshWhileVisible } from "./useRefreshWhileVisible";

const FINISHED: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** How often a finished job is read again while its page is visible (to notice a retry from elsewhere). */
export const FINISHED_JOB_REFRESH_MS = 30_000;

/**
 * A job's events, live, and followed again when the job reopens after its stream ended: by a retry on
 * this page (call `resume`), or from anywhere else (another tab, `planwright retry`). Once the stream
 * has ended the page holds no connection at all: it reads the job again every 30 s while visible and
 * when someone comes back to it, and follows the stream again if the job runs again. `job` is the job
 * as last read and `reloadJob` reads it again.
 */
export function useLiveJob(jobId: string, job: Job | undefined, reloadJob: () => void) {
  const live = useJobEvents(jobId);
  const { events, status, resume } = live;
  const ended = status === "ended";

  useRefreshWhileVisible(reloadJob, { enabled: ended, intervalMs: FINISHED_JOB_REFRESH_MS });

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

import { useCallback, useState } from "react";
import { api, type Job, type JobCreate, type JobDetail, type JobStatus } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useJobChanges, type ChangesStatus, type UseJobChangesOptions } from "./useJobChanges";
import { useRefreshWhileVisible } from "./useRefreshWhileVisible";
import { useResource } from "./useResource";

const FINISHED: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** How often the list is read again while nothing listed is running (and the page is visible). */
export const IDLE_REFRESH_MS = 10_000;

/** `idle`: nothing listed is unfinished, so no stream is held; the list is polled instead. */
export type JobsLiveStatus = ChangesStatus | "idle";

/**
 * Jobs, newest first, optionally filtered by status. While a listed job is unfinished the jobs changes
 * stream keeps the list current: read again when it (re)connects and whenever jobs change (one read at
 * a time, one more after a burst). While every listed job has finished, no connection is held: the list
 * is read every 10 s while the page is visible, and when someone comes back to it; a job submitted
 * elsewhere appears then, and its being unfinished opens the stream again. `live` says which.
 */
export function useJobs(status: JobStatus | "" = "", options: UseJobChangesOptions = {}) {
  const load = useCallback(
    () =>
      unwrap(
        api.GET("/jobs", {
          params: { query: { limit: 100, ...(status ? { status } : {}) } },
        }),
      ).then((page) => page.items as Job[]),
    [status],
  );
  const jobs = useResource(`jobs:${status}`, load);
  const running = jobs.data?.some((job) => !FINISHED.has(job.status)) ?? false;
  const { status: stream } = useJobChanges(jobs.reload, { ...options, enabled: running });
  useRefreshWhileVisible(jobs.reload, { enabled: !running, intervalMs: IDLE_REFRESH_MS });
  const live: JobsLiveStatus = running ? stream : jobs.data !== undefined ? "idle" : "connecting";
  return { ...jobs, live };
}

/** Submitting a new job; `error` is a readable message from the API (e.g. the goal is too long). */
export function useCreateJob() {
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const create = useCallback(async (body: JobCreate): Promise<JobDetail | null> => {
    setSubmitting(true);
    setError(null);
    try {
      return await unwrap(api.POST("/jobs", { body }));
    } catch (thrown) {
      setError(thrown instanceof Error ? thrown.message : String(thrown));
      return null;
    } finally {
      setSubmitting(false);
    }
  }, []);
  return { create, submitting, error };
}

import { useCallback, useState } from "react";
import { api, type Job, type JobCreate, type JobDetail, type JobStatus } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useJobChanges, type UseJobChangesOptions } from "./useJobChanges";
import { useResource } from "./useResource";

/**
 * Jobs, newest first, optionally filtered by status, kept current by the jobs changes stream: read
 * again when it (re)connects and whenever jobs change (one read at a time, one more after a burst).
 * `live` says whether that stream is connected.
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
  const { status: live } = useJobChanges(jobs.reload, options);
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

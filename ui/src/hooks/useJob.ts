import { useCallback } from "react";
import { api, type JobDetail } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useAction } from "./useAction";
import { useResource } from "./useResource";

/** One job with its plan. Call `reload` when its events say something changed. */
export function useJob(jobId: string | null) {
  const load = useCallback(
    () => unwrap(api.GET("/jobs/{job_id}", { params: { path: { job_id: jobId ?? "" } } })),
    [jobId],
  );
  return useResource<JobDetail>(`job:${jobId}`, load, { enabled: Boolean(jobId) });
}

/** Cancelling a job (POST /jobs/{id}/cancel). */
export function useCancelJob(jobId: string | null, onDone?: () => void) {
  const { run, busy, error } = useAction(onDone);
  const cancel = useCallback(async () => {
    if (!jobId) return;
    await run(() => unwrap(api.POST("/jobs/{job_id}/cancel", { params: { path: { job_id: jobId } } })));
  }, [jobId, run]);
  return { cancel, busy, error };
}

/** Pinning a job, or undoing it (POST / DELETE /jobs/{id}/pin): retention keeps a pinned job. */
export function usePinJob(jobId: string, onDone?: () => void) {
  const { run, busy, error } = useAction(onDone);
  const setPinned = useCallback(
    async (pinned: boolean) => {
      const params = { params: { path: { job_id: jobId } } };
      await run(() => unwrap(pinned ? api.POST("/jobs/{job_id}/pin", params) : api.DELETE("/jobs/{job_id}/pin", params)));
    },
    [jobId, run],
  );
  return { setPinned, busy, error };
}

import { useCallback } from "react";
import { api, type PlanVersion } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useResource } from "./useResource";

/** A job's plan versions, oldest first, each with its diff against the one before (GET /jobs/{id}/plans). */
export function usePlans(jobId: string | null) {
  const load = useCallback(
    () => unwrap(api.GET("/jobs/{job_id}/plans", { params: { path: { job_id: jobId ?? "" } } })),
    [jobId],
  );
  return useResource<PlanVersion[]>(`plans:${jobId}`, load, { enabled: Boolean(jobId) });
}

import { useCallback, useState } from "react";
import { api, type Task } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useResource } from "./useResource";

/** A job's tasks in plan order, with verdicts and policy decisions. */
export function useTasks(jobId: string | null) {
  const load = useCallback(
    () => unwrap(api.GET("/jobs/{job_id}/tasks", { params: { path: { job_id: jobId ?? "" } } })),
    [jobId],
  );
  return useResource<Task[]>(`tasks:${jobId}`, load, { enabled: Boolean(jobId) });
}

/** Approving or rejecting a task that awaits approval, with an optional comment. */
export function useTaskAnswer(onDone?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const answer = useCallback(
    async (taskId: string, verdict: "approve" | "reject", comment: string) => {
      setBusy(true);
      setError(null);
      const params = { path: { task_id: taskId } };
      const body = { comment };
      try {
        await unwrap(
          verdict === "approve"
            ? api.POST("/tasks/{task_id}/approve", { params, body })
            : api.POST("/tasks/{task_id}/reject", { params, body }),
        );
        onDone?.();
      } catch (thrown) {
        setError(thrown instanceof Error ? thrown.message : String(thrown));
      } finally {
        setBusy(false);
      }
    },
    [onDone],
  );
  return { answer, busy, error };
}

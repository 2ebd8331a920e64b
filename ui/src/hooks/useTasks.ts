import { useCallback } from "react";
import { api, type Task } from "@/api/client";
import { unwrap } from "@/api/errors";
import { useAction } from "./useAction";
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
  const { run, busy, error } = useAction(onDone);
  const answer = useCallback(
    (taskId: string, verdict: "approve" | "reject", comment: string) => {
      const params = { path: { task_id: taskId } };
      const body = { comment };
      return run(() =>
        unwrap(
          verdict === "approve"
            ? api.POST("/tasks/{task_id}/approve", { params, body })
            : api.POST("/tasks/{task_id}/reject", { params, body }),
        ),
      );
    },
    [run],
  );
  return { answer, busy, error };
}

/** Retrying a failed or blocked task (POST /tasks/{id}/retry); `error` is the API's reason in words. */
export function useTaskRetry(onDone?: () => void) {
  const { run, busy, error } = useAction(onDone);
  const retry = useCallback(
    (taskId: string) =>
      run(() => unwrap(api.POST("/tasks/{task_id}/retry", { params: { path: { task_id: taskId } } }))),
    [run],
  );
  return { retry, busy, error };
}

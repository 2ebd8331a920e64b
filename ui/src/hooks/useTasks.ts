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

/** Approving (perhaps with edited `args`) or rejecting a task that awaits approval, with an optional comment. */
export function useTaskAnswer(onDone?: () => void) {
  const { run, busy, error } = useAction(onDone);
  const answer = useCallback(
    (taskId: string, verdict: "approve" | "reject", comment: string, args?: Record<string, unknown>) => {
      const params = { path: { task_id: taskId } };
      return run(() =>
        unwrap(
          verdict === "approve"
            ? api.POST("/tasks/{task_id}/approve", { params, body: args ? { comment, args } : { comment } })
            : api.POST("/tasks/{task_id}/reject", { params, body: { comment } }),
        ),
      );
    },
    [run],
  );
  return { answer, busy, error };
}

/** Answering an ask_human task (POST /tasks/{id}/input); `error` says what the API found wrong (422). */
export function useTaskInput(onDone?: () => void) {
  const { run, busy, error } = useAction(onDone);
  const give = useCallback(
    (taskId: string, answer: unknown) =>
      run(() => unwrap(api.POST("/tasks/{task_id}/input", { params: { path: { task_id: taskId } }, body: { answer } }))),
    [run],
  );
  return { give, busy, error };
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

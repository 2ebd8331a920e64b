"use client";

import { useId, useState } from "react";
import type { JobStatus, Task, TaskStatus } from "@/api/client";
import { useMissingScope } from "@/hooks/useSession";
import { useTaskAnswer, useTaskRetry } from "@/hooks/useTasks";
import { parseArgs } from "@/lib/answerForm";
import { ErrorNote } from "./Common";

/**
 * Approve or reject a task that waits for a person (the policy's require_approval); an approval may
 * change the task's arguments (edited as JSON; the API checks them against the tool and the policy).
 */
export function ApprovalBox({ task, onChanged }: { task: Task; onChanged: () => void }) {
  const id = useId();
  const [comment, setComment] = useState("");
  const original = JSON.stringify(task.args, null, 2);
  const [argsText, setArgsText] = useState(original);
  const [problem, setProblem] = useState<string | null>(null);
  const { answer, busy, error } = useTaskAnswer(onChanged);
  const denied = useMissingScope("approvals:write");

  function approve() {
    if (argsText === original) {
      setProblem(null);
      void answer(task.id, "approve", comment);
      return;
    }
    const parsed = parseArgs(argsText);
    setProblem(parsed.ok ? null : parsed.error);
    if (parsed.ok) void answer(task.id, "approve", comment, parsed.args);
  }

  return (
    <div className="notice" style={{ marginTop: "0.8rem" }}>
      <strong>This task waits for a person&apos;s approval.</strong>
      <label htmlFor={`${id}-comment`}>Comment (optional)</label>
      <input id={`${id}-comment`} value={comment} maxLength={2000} onChange={(e) => setComment(e.target.value)} />
      <details>
        <summary>Change the arguments before approving</summary>
        <label htmlFor={`${id}-args`}>Arguments (JSON)</label>
        <textarea id={`${id}-args`} className="mono" rows={6} value={argsText} onChange={(e) => setArgsText(e.target.value)} />
      </details>
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={busy || denied !== null}
          title={denied ?? undefined}
          onClick={approve}
        >
          {argsText === original ? "Approve" : "Approve with these arguments"}
        </button>
        <button
          type="button"
          className="danger"
          disabled={busy || denied !== null}
          title={denied ?? undefined}
          onClick={() => answer(task.id, "reject", comment)}
        >
          Reject
        </button>
      </div>
      {denied ? <p className="hint">{denied} Approving or rejecting needs a key with it.</p> : null}
      <ErrorNote message={problem ?? error} />
    </div>
  );
}

/** The API retries a failed or blocked task of a running or failed job (POST /tasks/{id}/retry). */
export function canRetry(status: TaskStatus, jobStatus: JobStatus): boolean {
  return (status === "failed" || status === "blocked") && (jobStatus === "running" || jobStatus === "failed");
}

interface RetryProps {
  task: Task;
  status: TaskStatus;
  jobStatus: JobStatus;
  /** The retry was accepted: reload, and follow the (reopened) job's events again. */
  onRetried: () => void;
}

/** Run a failed or blocked task again; says in words why when the API refuses. */
export function RetryBox({ task, status, jobStatus, onRetried }: RetryProps) {
  const { retry, busy, error } = useTaskRetry(onRetried);
  const denied = useMissingScope("jobs:write");
  if (!canRetry(status, jobStatus) && !error) return null;
  const why =
    status === "blocked"
      ? "The policy blocked this task. Retrying asks the policy again, so change the policy first if it should run."
      : "This task failed. Retrying runs it again with a fresh retry budget.";
  return (
    <div className="notice" style={{ marginTop: "0.8rem" }} data-testid="retry-box">
      <p style={{ margin: 0 }}>
        {why} Tasks skipped because of it run again too{jobStatus === "failed" ? ", and the job reopens" : ""}.
      </p>
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={busy || denied !== null}
          title={denied ?? undefined}
          onClick={() => retry(task.id)}
        >
          {busy ? "Retrying…" : "Retry task"}
        </button>
      </div>
      {denied ? <p className="hint">{denied} Retrying needs a key with it.</p> : null}
      <ErrorNote message={error} />
    </div>
  );
}

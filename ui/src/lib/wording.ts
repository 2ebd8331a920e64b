import type { JobStatus, TaskStatus } from "@/api/client";

const FINISHED_JOB: ReadonlySet<JobStatus> = new Set<JobStatus>(["succeeded", "failed", "cancelled"]);

export function isFinishedJob(status: JobStatus): boolean {
  return FINISHED_JOB.has(status);
}

const NOT_RUN: Partial<Record<TaskStatus, string>> = {
  failed: "the task failed before a review",
  blocked: "the policy blocked the task",
  skipped: "the task was skipped",
  cancelled: "the task was cancelled",
};

/**
 * Why a task shows no critic verdict, in words, from what the task says of itself: whether its plan
 * asks for the critic, and where it is. A task that asks for the critic and succeeded without a verdict
 * was accepted unreviewed: the critic is off (CRITIC_ENABLED), since an approval is itself a verdict.
 */
export function criticNote(criticRequired: boolean, status: TaskStatus): string {
  if (!criticRequired) return "Not reviewed: this task does not require the critic.";
  if (status === "succeeded") return "No critic review: the critic is off (CRITIC_ENABLED), so the output was accepted as it was.";
  if (status === "reviewing") return "Awaiting review: the critic is checking this output.";
  const why = NOT_RUN[status];
  if (why) return `Not reviewed: ${why}.`;
  return "Awaiting review: the critic checks the output once the task has run.";
}

/** What an empty artifact list means: none yet while the job runs, none at all once it has finished. */
export function noArtifactsNote(jobStatus: JobStatus): string {
  return isFinishedJob(jobStatus) ? "The job wrote no artifacts." : "No artifacts yet.";
}

/** What an absent task output means. */
export function noOutputNote(status: TaskStatus): string {
  if (status === "succeeded") return "This task returned no output.";
  if (status === "failed" || status === "blocked" || status === "skipped" || status === "cancelled") {
    return `No output: the task ${status === "blocked" ? "was blocked" : status === "failed" ? "failed" : `was ${status}`}.`;
  }
  return "No output yet.";
}

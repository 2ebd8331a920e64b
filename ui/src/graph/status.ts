import type { JobStatus, TaskStatus } from "@/api/client";
import type { EventType, JobEvent } from "@/hooks/useJobEvents";

export const TASK_STATUSES: readonly TaskStatus[] = [
  "pending", "ready", "awaiting_approval", "awaiting_input", "queued", "running", "reviewing",
  "succeeded", "failed", "blocked", "skipped", "cancelled", "superseded",
];

export interface StatusStyle {
  label: string;
  /** Node fill. */
  background: string;
  /** Node border and text accent. */
  border: string;
  /** Finished: no further change expected. */
  final: boolean;
}

/** Node colour and label per task status (colours keep text readable, WCAG AA on #1a1a1a). */
export const STATUS_STYLE: Record<TaskStatus, StatusStyle> = {
  pending: { label: "Pending", background: "#f1f3f5", border: "#868e96", final: false },
  ready: { label: "Ready", background: "#e7f5ff", border: "#4dabf7", final: false },
  awaiting_approval: { label: "Awaiting approval", background: "#fff3bf", border: "#f08c00", final: false },
  awaiting_input: { label: "Awaiting input", background: "#fff0f6", border: "#d6336c", final: false },
  queued: { label: "Queued", background: "#e5dbff", border: "#7950f2", final: false },
  running: { label: "Running", background: "#d0ebff", border: "#1c7ed6", final: false },
  reviewing: { label: "Reviewing", background: "#f3d9fa", border: "#ae3ec9", final: false },
  succeeded: { label: "Succeeded", background: "#d3f9d8", border: "#2f9e44", final: true },
  failed: { label: "Failed", background: "#ffe3e3", border: "#e03131", final: true },
  blocked: { label: "Blocked", background: "#ffd8a8", border: "#d9480f", final: true },
  skipped: { label: "Skipped", background: "#e9ecef", border: "#495057", final: true },
  cancelled: { label: "Cancelled", background: "#dee2e6", border: "#343a40", final: true },
  superseded: { label: "Replaced", background: "#f8f9fa", border: "#adb5bd", final: true },
};

const UNKNOWN_STYLE: StatusStyle = { label: "Unknown", background: "#ffffff", border: "#868e96", final: false };

export function isTaskStatus(value: string): value is TaskStatus {
  return (TASK_STATUSES as readonly string[]).includes(value);
}

export function statusStyle(status: string): StatusStyle {
  return isTaskStatus(status) ? STATUS_STYLE[status] : UNKNOWN_STYLE;
}

/**
 * The status a task event puts its task in: the type's suffix (`task.running` -> running,
 * `task.pending` -> pending: a retry reopened it). `task.progress` means running; `task.retrying`
 * changes nothing (a `task.queued` follows); other events (critic.verdict, policy.decision, job.*)
 * do not set a task status.
 */
export function statusFromEventType(type: string): TaskStatus | null {
  if (!type.startsWith("task.")) return null;
  const suffix = type.slice("task.".length);
  if (suffix === "progress") return "running";
  return isTaskStatus(suffix) ? suffix : null;
}

/** The task key of a task event (`data.key`), or null. */
export function eventTaskKey(event: Pick<JobEvent, "data">): string | null {
  const key = event.data["key"];
  return typeof key === "string" && key !== "" ? key : null;
}

/**
 * Folds events (any order, duplicates allowed) into each task's latest status by key, on top
 * of `initial` (e.g. statuses from GET /jobs/{id}/tasks). The event with the highest id wins.
 */
export function foldTaskStatuses(
  events: readonly Pick<JobEvent, "id" | "type" | "data">[],
  initial: Readonly<Record<string, TaskStatus>> = {},
): Record<string, TaskStatus> {
  const result: Record<string, TaskStatus> = { ...initial };
  const sorted = [...events].sort((a, b) => a.id - b.id);
  for (const event of sorted) {
    const status = statusFromEventType(event.type);
    const key = eventTaskKey(event);
    if (status && key) result[key] = status;
    if (event.type === "plan.replanned") for (const k of replannedKeys(event.data)) result[k] = "pending";
  }
  return result;
}

/** The keys a replan added or changed (new tasks, pending until their first event): from its diff. */
function replannedKeys(data: Record<string, unknown>): string[] {
  const diff = data["diff"] as { added?: unknown; changed?: unknown } | undefined;
  const keys = [diff?.added, diff?.changed].flatMap((list) => (Array.isArray(list) ? list : []));
  return keys.filter((k): k is string => typeof k === "string");
}

/** Plan tasks that do not have a task row yet show as pending. */
export function initialStatuses(keys: readonly string[], tasks: readonly { key: string; status: TaskStatus }[] = []) {
  const result: Record<string, TaskStatus> = {};
  for (const key of keys) result[key] = "pending";
  for (const task of tasks) result[task.key] = task.status;
  return result;
}

type EventLike = Pick<JobEvent, "id" | "type" | "data">;

const JOB_EVENT_STATUS: Partial<Record<EventType, JobStatus>> = {
  "job.created": "pending",
  "job.planning": "planning",
  "job.running": "running",
  "job.succeeded": "succeeded",
  "job.failed": "failed",
  "job.cancelled": "cancelled",
};

/** The status a job event puts its job in (`job.running` also after `job.failed`: a retry reopened it). */
export function jobStatusFromEventType(type: string): JobStatus | null {
  return JOB_EVENT_STATUS[type as EventType] ?? null;
}

/** The job's latest status from its events (the highest id wins), on top of `initial`. */
export function foldJobStatus(events: readonly EventLike[], initial: JobStatus): JobStatus {
  let latest: { id: number; status: JobStatus } | null = null;
  for (const event of events) {
    const status = jobStatusFromEventType(event.type);
    if (status && (latest === null || event.id > latest.id)) latest = { id: event.id, status };
  }
  return latest?.status ?? initial;
}

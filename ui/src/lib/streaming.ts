import type { JobEvent } from "@/hooks/useJobEvents";

/**
 * A model's streamed text, from the job's events: `task.progress` events with a `delta` (a task's text
 * as it is written) and `plan.progress` (the LLM planner's answer). The API coalesces them to about
 * ten a second (docs/llm.md, Streaming); the final output arrives with the task's result.
 */

/** An event that carries streamed text rather than a change of state. */
export function isDelta(event: Pick<JobEvent, "data">): boolean {
  return typeof event.data["delta"] === "string";
}

/** The id of the last event that changed something (streamed text changes nothing), or undefined. */
export function lastChangeId(events: readonly JobEvent[]): number | undefined {
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event && !isDelta(event)) return event.id;
  }
  return undefined;
}

/** A run of the task begins (a new attempt, a rework, a worker taking over): its text starts afresh. */
const RESTARTS: ReadonlySet<string> = new Set(["task.queued", "task.running"]);

/** The text the task `key`'s model has streamed in its latest run, or null if nothing streamed. */
export function streamedTaskText(events: readonly JobEvent[], key: string): string | null {
  let text: string | null = null;
  for (const event of events) {
    if (event.data["key"] !== key) continue;
    if (RESTARTS.has(event.type)) text = null;
    else if (event.type === "task.progress" && isDelta(event)) text = (text ?? "") + String(event.data["delta"]);
  }
  return text;
}

/** The planner's streamed answer (its latest ask) since planning last began, or null. */
export function streamedPlanText(events: readonly JobEvent[]): string | null {
  let text: string | null = null;
  let attempt: unknown = null;
  for (const event of events) {
    if (event.type === "job.planning" || event.type === "plan.created" || event.type === "plan.replanned") {
      text = null;
      attempt = null;
    } else if (event.type === "plan.progress" && isDelta(event)) {
      if (event.data["attempt"] !== attempt) text = null; // a re-ask: a new answer
      attempt = event.data["attempt"];
      text = (text ?? "") + String(event.data["delta"]);
    }
  }
  return text;
}

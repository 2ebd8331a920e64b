"use client";

import type { JobEvent } from "@/hooks/useJobEvents";
import { eventTaskKey } from "@/graph/status";
import { formatClock } from "@/lib/format";
import { isDelta } from "@/lib/streaming";

/** One line of text saying what an event means (never HTML). */
export function summarizeEvent(event: JobEvent): string {
  const d = event.data;
  const text = (v: unknown) => (typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v));
  const parts: string[] = [];
  const key = eventTaskKey(event);
  if (key) parts.push(key + (d["attempt"] !== undefined ? ` #${text(d["attempt"])}` : ""));
  if (isDelta(event)) {
    // The model's streamed text (the task panel shows it growing): here only how much came.
    parts.push(`+${String(d["delta"]).length} characters streamed`);
    return parts.join(" · ");
  }
  switch (event.type) {
    case "critic.verdict": {
      const reasons = Array.isArray(d["reasons"]) ? (d["reasons"] as unknown[]).map(text).join("; ") : "";
      parts.push(`${text(d["verdict"])}${reasons ? `: ${reasons}` : ""}`);
      break;
    }
    case "policy.decision":
      // A person's answer names the key that gave it (decided_by); otherwise the rule decided.
      parts.push(`${text(d["decision"])} by ${text(d["decided_by"] ?? d["rule"])}: ${text(d["reason"])}`);
      break;
    case "plan.created":
      parts.push(`${Array.isArray(d["tasks"]) ? d["tasks"].length : 0} tasks (${text(d["planner"])})`);
      break;
    case "job.created":
      parts.push(`priority ${text(d["priority"])}`);
      break;
    default:
      for (const field of ["message", "error", "reason", "worker", "planner", "delay_s"]) {
        if (d[field] !== undefined) parts.push(field === "delay_s" ? `retry in ${text(d[field])} s` : text(d[field]));
      }
  }
  return parts.join(" · ");
}

/** The job's events as they arrive, oldest first. */
export function EventTimeline({ events }: { events: readonly JobEvent[] }) {
  if (events.length === 0) return <p className="muted">No events yet.</p>;
  return (
    <ol className="timeline" aria-label="Event timeline">
      {events.map((event) => (
        <li key={event.id} data-type={event.type}>
          <time dateTime={event.created_at} className="muted">
            {formatClock(event.created_at)}
          </time>
          <code>{event.type}</code>
          <span className="summary">{summarizeEvent(event)}</span>
        </li>
      ))}
    </ol>
  );
}

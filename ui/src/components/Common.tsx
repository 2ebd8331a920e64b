import type { ReactNode } from "react";
import { statusStyle } from "@/graph/status";
import { toJson } from "@/lib/format";

/** An error sentence, announced to screen readers. */
export function ErrorNote({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p className="error" role="alert">
      {message}
    </p>
  );
}

const JOB_STATUS_COLOURS: Record<string, { background: string; border: string }> = {
  pending: { background: "#f1f3f5", border: "#868e96" },
  planning: { background: "#e7f5ff", border: "#4dabf7" },
  running: { background: "#d0ebff", border: "#1c7ed6" },
  succeeded: { background: "#d3f9d8", border: "#2f9e44" },
  failed: { background: "#ffe3e3", border: "#e03131" },
  cancelled: { background: "#dee2e6", border: "#343a40" },
};

/** A job status (pending..cancelled) or a task status, as a coloured badge. */
export function StatusBadge({ status, kind = "task" }: { status: string; kind?: "job" | "task" }) {
  const style =
    kind === "job"
      ? { ...(JOB_STATUS_COLOURS[status] ?? { background: "#fff", border: "#868e96" }), label: status }
      : statusStyle(status);
  return (
    <span
      className="badge"
      data-status={status}
      style={{ background: style.background, borderColor: style.border }}
    >
      {style.label}
    </span>
  );
}

/** Any JSON value, shown as text (never as HTML). */
export function JsonBlock({ value, label }: { value: unknown; label?: string }) {
  return (
    <pre className="json" aria-label={label}>
      {toJson(value)}
    </pre>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card" aria-label={title}>
      <div className="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

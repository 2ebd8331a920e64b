"use client";

import type { Task, TaskStatus } from "@/api/client";
import { criticNote } from "@/lib/wording";

/** The critic's verdicts on a task, oldest first, or in words why there is none. */
export function CriticVerdicts({ task, status }: { task: Task; status: TaskStatus }) {
  const verdicts = task.verdicts ?? [];
  if (verdicts.length === 0) {
    return (
      <p className="muted" data-testid="critic-note">
        {criticNote(task.critic_required, status)}
      </p>
    );
  }
  return (
    <>
      <ul className="plain" data-testid="verdicts">
        {verdicts.map((v, i) => (
          <li key={i}>
            <strong>{v.verdict}</strong> (attempt {v.attempt})
            {v.reasons.length > 0 ? (
              <ul>
                {v.reasons.map((r, j) => (
                  <li key={j}>{r}</li>
                ))}
              </ul>
            ) : null}
          </li>
        ))}
      </ul>
      {status === "reviewing" ? <p className="muted">Awaiting review of attempt {task.attempt}.</p> : null}
    </>
  );
}

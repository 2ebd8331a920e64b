"use client";

import type { Decision, JobStatus, Task, TaskStatus } from "@/api/client";
import type { JobEvent } from "@/hooks/useJobEvents";
import { eventTaskKey } from "@/graph/status";
import { formatClock, formatDuration, formatTime, formatUsage } from "@/lib/format";
import { isDelta, streamedTaskText } from "@/lib/streaming";
import { JsonBlock, StatusBadge } from "./Common";
import { CriticVerdicts } from "./CriticVerdicts";
import { summarizeEvent } from "./EventTimeline";
import { InputBox, questionOf } from "./InputBox";
import { ApprovalBox, RetryBox } from "./TaskActions";
import { TaskOutput } from "./TaskOutput";

interface Props {
  task: Task;
  liveStatus: TaskStatus;
  jobStatus: JobStatus;
  events: readonly JobEvent[];
  onChanged: () => void;
  /** A retry was accepted: the job may have reopened. */
  onRetried: () => void;
}

/** One policy decision: who made it, a person (the key that approved or rejected) or a rule. */
function DecisionItem({ decision: d }: { decision: Decision }) {
  return (
    <li>
      {d.decided_by ? (
        <>
          <strong>{d.decision}</strong> by <strong>{d.decided_by}</strong> (attempt {d.attempt})
        </>
      ) : (
        <>
          <strong>{d.decision}</strong> (attempt {d.attempt}) by <code>{d.rule}</code>
        </>
      )}
      <div>{d.reason}</div>
      {d.args_edit ? (
        <details data-testid="args-edit">
          <summary>Arguments changed by the approver</summary>
          <JsonBlock value={d.args_edit.original} label="Arguments as planned" />
          <JsonBlock value={d.args_edit.edited} label="Arguments approved" />
        </details>
      ) : null}
    </li>
  );
}

/** Everything about one task: args, output, error, attempts, verdicts, policy decisions; approve or retry it. */
export function TaskPanel({ task, liveStatus, jobStatus, events, onChanged, onRetried }: Props) {
  // Streamed text is shown growing in the output, not listed as events.
  const history = events.filter((e) => eventTaskKey(e) === task.key && !isDelta(e));
  const attempts = new Map<number, JobEvent[]>();
  for (const event of history) {
    const attempt = typeof event.data["attempt"] === "number" ? event.data["attempt"] : 0;
    attempts.set(attempt, [...(attempts.get(attempt) ?? []), event]);
  }
  const awaiting = liveStatus === "awaiting_approval" || task.status === "awaiting_approval";
  const asking = liveStatus === "awaiting_input" || task.status === "awaiting_input";
  const asked = [...history].reverse().find((e) => e.type === "task.awaiting_input");
  const decisions: readonly Decision[] = task.policy_decisions ?? [];

  return (
    <div data-testid="task-panel">
      <h3 style={{ marginTop: 0 }}>{task.title}</h3>
      <dl className="facts">
        <dt>Key</dt>
        <dd>
          <code>{task.key}</code>
        </dd>
        <dt>Tool</dt>
        <dd>
          <code>{task.tool}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={liveStatus} />
        </dd>
        <dt>Attempt</dt>
        <dd>
          {task.attempt} ({task.reworks} rework{task.reworks === 1 ? "" : "s"})
        </dd>
        <dt>Started</dt>
        <dd>{formatTime(task.started_at)}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(task.started_at, task.finished_at)}</dd>
        <dt>Model use</dt>
        <dd>{formatUsage(task.usage)}</dd>
        {task.description ? (
          <>
            <dt>Description</dt>
            <dd>{task.description}</dd>
          </>
        ) : null}
      </dl>

      {awaiting ? <ApprovalBox key={`approve:${task.id}`} task={task} onChanged={onChanged} /> : null}
      {asking ? (
        <InputBox key={`input:${task.id}`} task={task} question={questionOf(task, asked?.data)} onChanged={onChanged} />
      ) : null}
      <RetryBox key={`retry:${task.id}`} task={task} status={liveStatus} jobStatus={jobStatus} onRetried={onRetried} />

      {task.error ? (
        <>
          <h3>Error</h3>
          <pre className="text error">{task.error}</pre>
        </>
      ) : null}

      <h3>Policy decisions</h3>
      {decisions.length > 0 ? (
        <ul className="plain" data-testid="policy-decisions">
          {decisions.map((d, i) => (
            <DecisionItem key={i} decision={d} />
          ))}
        </ul>
      ) : (
        <p className="muted">None.</p>
      )}

      <h3>Critic verdicts</h3>
      <CriticVerdicts task={task} status={liveStatus} />

      <h3>Arguments</h3>
      <JsonBlock value={task.args} label="Arguments" />
      <TaskOutput task={task} status={liveStatus} streamed={streamedTaskText(events, task.key)} />

      <h3>Attempts</h3>
      {attempts.size === 0 ? (
        <p className="muted">No events for this task yet.</p>
      ) : (
        [...attempts.entries()].map(([attempt, list]) => (
          <details key={attempt} open={attempt === task.attempt}>
            <summary>Attempt {attempt || "?"}</summary>
            <ul className="plain">
              {list.map((e) => (
                <li key={e.id}>
                  <span className="muted">{formatClock(e.created_at)}</span> <code>{e.type}</code>{" "}
                  {summarizeEvent(e)}
                </li>
              ))}
            </ul>
          </details>
        ))
      )}
    </div>
  );
}

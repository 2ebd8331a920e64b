"use client";

import type { Task, TaskStatus } from "@/api/client";
import type { PlanGraphTask } from "./PlanGraph";
import { formatDuration } from "@/lib/format";
import { StatusBadge } from "./Common";

interface Props {
  planTasks: readonly PlanGraphTask[];
  tasks: readonly Task[];
  statuses: Readonly<Record<string, TaskStatus>>;
  selected: string | null;
  onSelect: (key: string) => void;
}

/** One row per plan task: tool, live status, attempt, duration; the title opens the task panel. */
export function TaskTable({ planTasks, tasks, statuses, selected, onSelect }: Props) {
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  if (planTasks.length === 0) return null;
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col" className="wide-only">
              Tool
            </th>
            <th scope="col">Status</th>
            <th scope="col">Attempt</th>
            <th scope="col" className="wide-only">
              Duration
            </th>
          </tr>
        </thead>
        <tbody>
          {planTasks.map((plan) => {
            const task = byKey.get(plan.key);
            const status = statuses[plan.key] ?? task?.status ?? "pending";
            return (
              <tr key={plan.key} className={plan.key === selected ? "selected" : undefined}>
                <td>
                  <button
                    type="button"
                    className="link"
                    onClick={() => onSelect(plan.key)}
                    aria-pressed={plan.key === selected}
                  >
                    {plan.title}
                  </button>
                </td>
                <td className="wide-only">
                  <code>{plan.tool}</code>
                </td>
                <td data-testid={`task-status-${plan.key}`}>
                  <StatusBadge status={status} />
                </td>
                <td>
                  {task?.attempt ?? "—"}
                  {task && task.reworks > 0 ? <span className="muted"> ({task.reworks} rework)</span> : null}
                </td>
                <td className="wide-only">{formatDuration(task?.started_at, task?.finished_at)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

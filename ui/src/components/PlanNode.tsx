"use client";

import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { MARK_LABELS, type PlanMark } from "@/lib/planDiff";

export type PlanNodeData = {
  taskKey: string;
  title: string;
  tool: string;
  status: string;
  statusLabel: string;
  /** How the task differs from the plan version before (a replanned job's graph). */
  mark?: PlanMark;
  /** Top-to-bottom layout (narrow screens): edges enter at the top and leave at the bottom. */
  vertical: boolean;
  onOpen: (key: string) => void;
};

export type PlanNodeType = Node<PlanNodeData, "task">;

/**
 * One task in the plan graph: a real button, so Tab reaches it and Enter or Space opens its panel.
 * The title takes up to two lines (the whole title is its tooltip); the tool's name is never cut: it
 * wraps, and the node is as tall as it needs (graph/layout.ts).
 */
export function PlanNode({ data, selected }: NodeProps<PlanNodeType>) {
  const [target, source] = data.vertical ? [Position.Top, Position.Bottom] : [Position.Left, Position.Right];
  return (
    <>
      <Handle type="target" position={target} isConnectable={false} className="plan-handle" />
      <button
        type="button"
        className="plan-node-button"
        data-testid={`node-${data.taskKey}`}
        data-status={data.status}
        data-mark={data.mark}
        aria-pressed={selected}
        onClick={() => data.onOpen(data.taskKey)}
      >
        <strong className="plan-node-title" title={data.title}>
          {data.title}
        </strong>
        <span className="plan-node-status">
          {data.mark ? `${MARK_LABELS[data.mark]} · ${data.statusLabel}` : data.statusLabel}
        </span>
        <code className="plan-node-tool" data-testid={`node-tool-${data.taskKey}`}>
          {data.tool}
        </code>
      </button>
      <Handle type="source" position={source} isConnectable={false} className="plan-handle" />
    </>
  );
}

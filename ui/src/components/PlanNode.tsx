"use client";

import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";

export type PlanNodeData = {
  taskKey: string;
  title: string;
  tool: string;
  status: string;
  statusLabel: string;
  /** Top-to-bottom layout (narrow screens): edges enter at the top and leave at the bottom. */
  vertical: boolean;
  onOpen: (key: string) => void;
};

export type PlanNodeType = Node<PlanNodeData, "task">;

/** One task in the plan graph: a real button, so Tab reaches it and Enter or Space opens its panel. */
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
        aria-pressed={selected}
        onClick={() => data.onOpen(data.taskKey)}
      >
        <strong title={data.title}>{data.title}</strong>
        <span>
          {data.statusLabel} · <code>{data.tool}</code>
        </span>
      </button>
      <Handle type="source" position={source} isConnectable={false} className="plan-handle" />
    </>
  );
}

"use client";

import { Background, Controls, Position, ReactFlow, type Edge, type Node } from "@xyflow/react";
import { useMemo } from "react";
import type { TaskStatus } from "@/api/client";
import { layoutPlan, NODE_HEIGHT, NODE_WIDTH } from "@/graph/layout";
import { STATUS_STYLE, TASK_STATUSES, statusStyle } from "@/graph/status";

export interface PlanGraphTask {
  key: string;
  title: string;
  tool: string;
  depends_on: readonly string[];
}

interface Props {
  tasks: readonly PlanGraphTask[];
  statuses: Readonly<Record<string, TaskStatus>>;
  selected: string | null;
  onSelect: (key: string) => void;
}

/** The plan as a DAG (dagre layout), each node coloured by its task's live status. */
export function PlanGraph({ tasks, statuses, selected, onSelect }: Props) {
  const positions = useMemo(() => layoutPlan(tasks), [tasks]);

  const nodes: Node[] = useMemo(
    () =>
      tasks.map((task) => {
        const status = statuses[task.key] ?? "pending";
        const style = statusStyle(status);
        return {
          id: task.key,
          position: positions[task.key] ?? { x: 0, y: 0 },
          data: {
            label: (
              <span data-testid={`node-${task.key}`} data-status={status}>
                <strong title={task.title}>{task.title}</strong>
                <span>
                  {task.tool} · {style.label}
                </span>
              </span>
            ),
          },
          ariaLabel: `${task.title} (${task.tool}): ${style.label}`,
          className: "plan-node",
          selected: task.key === selected,
          draggable: false,
          connectable: false,
          sourcePosition: Position.Right,
          targetPosition: Position.Left,
          style: {
            width: NODE_WIDTH,
            height: NODE_HEIGHT,
            background: style.background,
            border: `${task.key === selected ? 4 : 2}px solid ${style.border}`,
            borderRadius: 8,
            color: "#1a1a1a",
          },
        };
      }),
    [tasks, statuses, positions, selected],
  );

  const edges: Edge[] = useMemo(() => {
    const keys = new Set(tasks.map((t) => t.key));
    return tasks.flatMap((task) =>
      task.depends_on
        .filter((dep) => keys.has(dep))
        .map((dep) => ({
          id: `${dep}->${task.key}`,
          source: dep,
          target: task.key,
          animated: statuses[task.key] === "running",
        })),
    );
  }, [tasks, statuses]);

  if (tasks.length === 0) return <p className="muted">No plan yet.</p>;

  return (
    <>
      <div className="graph" data-testid="plan-graph">
        <ReactFlow
          key={tasks.map((t) => t.key).join("|")}
          nodes={nodes}
          edges={edges}
          fitView
          fitViewOptions={{ padding: 0.15 }}
          nodesDraggable={false}
          nodesConnectable={false}
          onNodeClick={(_, node) => onSelect(node.id)}
          proOptions={{ hideAttribution: true }}
          minZoom={0.2}
        >
          <Background />
          <Controls showInteractive={false} />
        </ReactFlow>
      </div>
      <div className="legend" aria-label="Status colours">
        {TASK_STATUSES.map((s) => (
          <span
            key={s}
            className="badge"
            style={{ background: STATUS_STYLE[s].background, borderColor: STATUS_STYLE[s].border }}
          >
            {STATUS_STYLE[s].label}
          </span>
        ))}
      </div>
    </>
  );
}

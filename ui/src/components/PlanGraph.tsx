"use client";

import { Background, Controls, ReactFlow, type Edge, type NodeTypes } from "@xyflow/react";
import { useMemo } from "react";
import type { TaskStatus } from "@/api/client";
import { layoutPlan, NODE_HEIGHT, NODE_WIDTH } from "@/graph/layout";
import { STATUS_STYLE, TASK_STATUSES, statusStyle } from "@/graph/status";
import { useMediaQuery } from "@/hooks/useMediaQuery";
import { PlanNode, type PlanNodeType } from "./PlanNode";

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

const NODE_TYPES = { task: PlanNode } satisfies NodeTypes;

/**
 * The plan as a DAG (dagre layout: left to right, top to bottom on narrow screens), each node coloured
 * by its task's live status. Nodes are buttons: Tab reaches them, Enter or Space opens the task.
 */
export function PlanGraph({ tasks, statuses, selected, onSelect }: Props) {
  const vertical = useMediaQuery("(max-width: 600px)");
  const positions = useMemo(() => layoutPlan(tasks, vertical ? "TB" : "LR"), [tasks, vertical]);

  const nodes: PlanNodeType[] = useMemo(
    () =>
      tasks.map((task) => {
        const status = statuses[task.key] ?? "pending";
        const style = statusStyle(status);
        return {
          id: task.key,
          type: "task",
          position: positions[task.key] ?? { x: 0, y: 0 },
          data: {
            taskKey: task.key,
            title: task.title,
            tool: task.tool,
            status,
            statusLabel: style.label,
            vertical,
            onOpen: onSelect,
          },
          className: "plan-node",
          selected: task.key === selected,
          draggable: false,
          connectable: false,
          // Fixed dimensions (the layout assumes them too): React Flow shows a node without known
          // dimensions only once it has measured it, and each status change hands it a new node
          // object whose measurement it may not redo, which could leave a node hidden.
          width: NODE_WIDTH,
          height: NODE_HEIGHT,
          style: {
            background: style.background,
            border: `${task.key === selected ? 4 : 2}px solid ${style.border}`,
            borderRadius: 8,
            color: "#1a1a1a",
          },
        };
      }),
    [tasks, statuses, positions, selected, vertical, onSelect],
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
          key={`${vertical ? "TB" : "LR"}:${tasks.map((t) => t.key).join("|")}`}
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          fitView
          fitViewOptions={{ padding: 0.15 }}
          nodesDraggable={false}
          nodesConnectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
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

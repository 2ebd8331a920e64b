"use client";

import { Background, Controls, MarkerType, MiniMap, ReactFlow, type Edge, type NodeTypes } from "@xyflow/react";
import { useMemo } from "react";
import type { TaskStatus } from "@/api/client";
import { layoutPlan, NODE_WIDTH } from "@/graph/layout";
import { STATUS_STYLE, TASK_STATUSES, statusStyle } from "@/graph/status";
import { useMediaQuery } from "@/hooks/useMediaQuery";
import type { PlanMark } from "@/lib/planDiff";
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
  /** A replanned job's diff against the version before: new, changed and removed tasks. */
  marks?: Readonly<Record<string, PlanMark>>;
  selected: string | null;
  onSelect: (key: string) => void;
}

const NODE_TYPES = { task: PlanNode } satisfies NodeTypes;
const EDGE = "#495057";
const EDGE_RUNNING = STATUS_STYLE.running.border;
/** Fitting never zooms in past 1 (a 1-task plan is one node-sized node) nor out below 0.4 (text stays legible; pan for the rest). */
const FIT = { padding: 0.12, minZoom: 0.4, maxZoom: 1 };
/** The panel grows with the drawing, within these bounds (px). */
const MIN_HEIGHT = 200;
const MAX_HEIGHT = 560;

/** The edge from `dep` to `task`: an arrow toward the task that waits, animated while either end runs. */
function planEdge(dep: string, task: string, statuses: Readonly<Record<string, TaskStatus>>): Edge {
  const running = statuses[dep] === "running" || statuses[task] === "running";
  const stroke = running ? EDGE_RUNNING : EDGE;
  return {
    id: `${dep}->${task}`,
    source: dep,
    target: task,
    animated: running,
    style: { stroke, strokeWidth: 2 },
    markerEnd: { type: MarkerType.ArrowClosed, color: stroke, width: 18, height: 18 },
  };
}

/**
 * The plan as a DAG (dagre layout: left to right, top to bottom on narrow screens), each node coloured
 * by its task's live status, arrows from each task to those that wait for it. Nodes are buttons: Tab
 * reaches them, Enter or Space opens the task.
 */
export function PlanGraph({ tasks, statuses, marks, selected, onSelect }: Props) {
  const vertical = useMediaQuery("(max-width: 600px)");
  const layout = useMemo(() => layoutPlan(tasks, vertical ? "TB" : "LR"), [tasks, vertical]);

  const nodes: PlanNodeType[] = useMemo(
    () =>
      tasks.map((task) => {
        const status = statuses[task.key] ?? "pending";
        const style = statusStyle(status);
        return {
          id: task.key,
          type: "task",
          position: layout.positions[task.key] ?? { x: 0, y: 0 },
          data: {
            taskKey: task.key,
            title: task.title,
            tool: task.tool,
            status,
            statusLabel: style.label,
            mark: marks?.[task.key],
            vertical,
            onOpen: onSelect,
          },
          className: "plan-node",
          selected: task.key === selected,
          draggable: false,
          connectable: false,
          // Fixed dimensions (the layout assumes them too), given as measured too: React Flow shows a
          // node without known dimensions only once it has measured it, and a new node object without
          // `measured` (each status change makes one) drops the node's measured handles. Edges are
          // drawn only between measured handles, and React Flow may not measure them again (the DOM
          // did not resize), which left a finished plan without arrows now and then.
          width: NODE_WIDTH,
          height: layout.heights[task.key],
          measured: { width: NODE_WIDTH, height: layout.heights[task.key] },
          style: {
            background: style.background,
            border: `${task.key === selected ? 4 : 2}px solid ${style.border}`,
            borderRadius: 8,
            color: "#1a1a1a",
          },
        };
      }),
    [tasks, statuses, marks, layout, selected, vertical, onSelect],
  );

  const edges: Edge[] = useMemo(() => {
    const keys = new Set(tasks.map((t) => t.key));
    return tasks.flatMap((task) =>
      task.depends_on.filter((dep) => keys.has(dep)).map((dep) => planEdge(dep, task.key, statuses)),
    );
  }, [tasks, statuses]);

  if (tasks.length === 0) return <p className="muted">No plan yet.</p>;
  const height = Math.round(Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, layout.height * FIT.maxZoom + 40)));

  return (
    <>
      <div className="graph" data-testid="plan-graph" style={{ height }}>
        <ReactFlow
          key={`${vertical ? "TB" : "LR"}:${tasks.map((t) => t.key).join("|")}`}
          nodes={nodes}
          edges={edges}
          nodeTypes={NODE_TYPES}
          fitView
          fitViewOptions={FIT}
          nodesDraggable={false}
          nodesConnectable={false}
          nodesFocusable={false}
          edgesFocusable={false}
          proOptions={{ hideAttribution: true }}
          minZoom={0.1}
          maxZoom={2}
        >
          <Background />
          <Controls showInteractive={false} />
          {tasks.length > 12 ? (
            <MiniMap
              pannable
              zoomable
              ariaLabel="Plan overview"
              nodeColor={(node) => statusStyle(String((node.data as { status?: string }).status)).border}
            />
          ) : null}
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

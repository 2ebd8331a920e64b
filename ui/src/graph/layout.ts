import dagre from "@dagrejs/dagre";

export const NODE_WIDTH = 240;
export const NODE_HEIGHT = 64;

export interface PlanNodeInput {
  key: string;
  depends_on: readonly string[];
}

/** Top-left positions for each task from a dagre layered layout (dependencies first). */
export function layoutPlan(
  tasks: readonly PlanNodeInput[],
  direction: "LR" | "TB" = "LR",
): Record<string, { x: number; y: number }> {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: direction, nodesep: 30, ranksep: 60, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  const keys = new Set(tasks.map((t) => t.key));
  for (const task of tasks) graph.setNode(task.key, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const task of tasks) {
    for (const dep of task.depends_on) if (keys.has(dep)) graph.setEdge(dep, task.key);
  }
  dagre.layout(graph);
  const positions: Record<string, { x: number; y: number }> = {};
  for (const task of tasks) {
    const node = graph.node(task.key);
    positions[task.key] = { x: node.x - NODE_WIDTH / 2, y: node.y - NODE_HEIGHT / 2 };
  }
  return positions;
}

import dagre from "@dagrejs/dagre";

export const NODE_WIDTH = 250;
const LINE = 18; // px per text line in a node (0.85rem at line-height 1.35, code a little smaller)
const PADDING = 14; // the button's padding and the node's border, top and bottom
// Characters per line, a little under what fits in 250 px: a line is never found too short.
const TITLE_CHARS = 26; // bold system font
const TOOL_CHARS = 28; // monospace, 0.78rem: about 7.5 px a character
const TITLE_MAX_LINES = 2; // longer titles are cut with an ellipsis; the full title is the tooltip

export interface PlanNodeInput {
  key: string;
  depends_on: readonly string[];
  title?: string;
  tool?: string;
}

export interface PlanLayout {
  /** Top-left corner of each task's node. */
  positions: Record<string, { x: number; y: number }>;
  /** Each task's node height (all nodes are NODE_WIDTH wide). */
  heights: Record<string, number>;
  /** The whole drawing's size. */
  width: number;
  height: number;
}

const lines = (text: string, perLine: number) => Math.max(1, Math.ceil(text.length / perLine));

/**
 * A node's height for its text: the title (up to two lines), the status, and the tool's full name,
 * wrapped over as many lines as it needs (a tool name is never cut).
 */
export function nodeHeight(task: Pick<PlanNodeInput, "title" | "tool">): number {
  const title = Math.min(TITLE_MAX_LINES, lines(task.title ?? "", TITLE_CHARS));
  return PADDING + (title + 1 + lines(task.tool ?? "", TOOL_CHARS)) * LINE;
}

/** A dagre layered layout (dependencies first): left to right (`LR`) or top to bottom (`TB`). */
export function layoutPlan(tasks: readonly PlanNodeInput[], direction: "LR" | "TB" = "LR"): PlanLayout {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: direction, nodesep: 30, ranksep: 70, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  const keys = new Set(tasks.map((t) => t.key));
  const heights: Record<string, number> = {};
  for (const task of tasks) {
    heights[task.key] = nodeHeight(task);
    graph.setNode(task.key, { width: NODE_WIDTH, height: heights[task.key] });
  }
  for (const task of tasks) {
    for (const dep of task.depends_on) if (keys.has(dep)) graph.setEdge(dep, task.key);
  }
  dagre.layout(graph);
  const positions: Record<string, { x: number; y: number }> = {};
  for (const task of tasks) {
    const node = graph.node(task.key);
    const height = heights[task.key] ?? 0;
    positions[task.key] = { x: node.x - NODE_WIDTH / 2, y: node.y - height / 2 };
  }
  const size = graph.graph();
  return { positions, heights, width: size.width ?? 0, height: size.height ?? 0 };
}

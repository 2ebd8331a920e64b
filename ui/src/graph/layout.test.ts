import { describe, expect, it } from "vitest";
import { layoutPlan, NODE_WIDTH, nodeHeight } from "./layout";

describe("layoutPlan", () => {
  it("puts dependencies first, left to right or top to bottom", () => {
    const tasks = [
      { key: "a", depends_on: [], title: "A", tool: "text_generate" },
      { key: "b", depends_on: ["a"], title: "B", tool: "file_write_artifact" },
    ];
    const lr = layoutPlan(tasks, "LR");
    expect(lr.positions.b?.x).toBeGreaterThanOrEqual((lr.positions.a?.x ?? NaN) + NODE_WIDTH);
    expect(lr.width).toBeGreaterThan(2 * NODE_WIDTH);
    const tb = layoutPlan(tasks, "TB");
    expect(tb.positions.b?.y).toBeGreaterThan((tb.positions.a?.y ?? NaN) + (tb.heights.a ?? NaN));
  });

  it("lays out a 1 -> 200 -> 1 fan-out with every node apart", () => {
    const middle = Array.from({ length: 200 }, (_, i) => ({ key: `m${i}`, depends_on: ["start"] }));
    const tasks = [{ key: "start", depends_on: [] }, ...middle, { key: "end", depends_on: middle.map((m) => m.key) }];
    const { positions } = layoutPlan(tasks);
    const ys = new Set(middle.map((m) => positions[m.key]?.y));
    expect(ys.size).toBe(200);
  });
});

describe("nodeHeight", () => {
  it("gives a long tool name more lines instead of cutting it", () => {
    const short = nodeHeight({ title: "Write", tool: "file_write_artifact" });
    const long = nodeHeight({ title: "Write", tool: "docs_server__search_the_whole_documentation_index" });
    expect(long).toBeGreaterThan(short);
    expect(nodeHeight({ title: "x".repeat(500), tool: "t" })).toBe(nodeHeight({ title: "x".repeat(60), tool: "t" }));
  });
});

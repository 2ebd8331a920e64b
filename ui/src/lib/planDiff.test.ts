import { describe, expect, it } from "vitest";
import type { PlanVersion } from "@/api/client";
import { versionGraph, versionLabel } from "./planDiff";

function task(key: string, depends_on: string[] = []) {
  return { key, title: key, tool: "text_generate", depends_on, critic_required: false };
}

const V1: PlanVersion = {
  version: 1,
  planner: "llm",
  created_at: "2026-12-06T10:00:00Z",
  reason: null,
  diff: null,
  tasks: [task("outline"), task("notes", ["outline"]), task("save", ["notes"])],
};
const V2: PlanVersion = {
  version: 2,
  planner: "llm",
  created_at: "2026-12-06T10:01:00Z",
  reason: "task 'notes' failed: HTTP 400",
  diff: {
    added: ["short"],
    removed: ["notes"],
    changed: [{ key: "save", fields: { depends_on: { before: ["notes"], after: ["short"] } } }],
  },
  tasks: [task("outline"), task("short", ["outline"]), task("save", ["short"])],
};

describe("versionGraph", () => {
  it("draws the first version as it is, unmarked", () => {
    const graph = versionGraph([V1, V2], 1);
    expect(graph.tasks.map((t) => t.key)).toEqual(["outline", "notes", "save"]);
    expect(graph.marks).toEqual({});
  });

  it("marks a replan's new and changed tasks and keeps the removed ones, marked, after them", () => {
    const graph = versionGraph([V1, V2], 2);
    expect(graph.tasks.map((t) => t.key)).toEqual(["outline", "short", "save", "notes"]);
    expect(graph.marks).toEqual({ short: "added", save: "changed", notes: "removed" });
    // The removed task keeps its arrow from the kept task it depended on.
    expect(graph.tasks.find((t) => t.key === "notes")?.depends_on).toEqual(["outline"]);
  });

  it("has nothing to draw for a version it does not know", () => {
    expect(versionGraph([V1], 3)).toEqual({ tasks: [], marks: {} });
  });
});

describe("versionLabel", () => {
  it("names the version, its planner and why it was made", () => {
    expect(versionLabel(V1)).toBe("v1 (llm)");
    expect(versionLabel(V2)).toBe("v2 (llm): task 'notes' failed: HTTP 400");
  });
});

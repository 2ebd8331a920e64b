import { describe, expect, it } from "vitest";
import type { JobEvent } from "@/hooks/useJobEvents";
import { isDelta, lastChangeId, streamedPlanText, streamedTaskText } from "./streaming";

let nextId = 0;
function ev(type: string, data: Record<string, unknown>): JobEvent {
  nextId += 1;
  return { id: nextId, job_id: "j", type, task_id: null, data, created_at: "2026-01-01T00:00:00Z" };
}
const delta = (key: string, text: string, attempt = 1) => ev("task.progress", { key, attempt, message: "", delta: text });

describe("streamedTaskText", () => {
  it("adds up a task's deltas in order, ignoring other tasks and plain progress messages", () => {
    const events = [
      ev("task.running", { key: "draft", attempt: 1 }),
      ev("task.progress", { key: "draft", attempt: 1, message: "asking openai model" }),
      delta("draft", "Release "),
      delta("other", "noise"),
      delta("draft", "notes"),
    ];
    expect(streamedTaskText(events, "draft")).toBe("Release notes");
    expect(streamedTaskText(events, "other")).toBe("noise");
    expect(streamedTaskText(events, "missing")).toBeNull();
  });

  it("starts afresh with each run of the task: a retry, a rework, a worker taking over", () => {
    const events = [
      ev("task.running", { key: "draft", attempt: 1 }),
      delta("draft", "first try"),
      ev("task.queued", { key: "draft", attempt: 2 }),
      ev("task.running", { key: "draft", attempt: 2 }),
      delta("draft", "second ", 2),
    ];
    expect(streamedTaskText(events, "draft")).toBe("second ");
    expect(streamedTaskText([...events, ev("task.running", { key: "draft", attempt: 2, delivery: 2 })], "draft")).toBeNull();
  });
});

describe("streamedPlanText", () => {
  it("adds up the planner's answer, and a re-ask replaces it", () => {
    const planning = ev("job.planning", { planner: "llm" });
    const first = [planning, ev("plan.progress", { attempt: 1, delta: '{"tasks": [' }), ev("plan.progress", { attempt: 1, delta: "]}" })];
    expect(streamedPlanText(first)).toBe('{"tasks": []}');
    const reask = [...first, ev("plan.progress", { attempt: 2, delta: '{"tasks"' })];
    expect(streamedPlanText(reask)).toBe('{"tasks"');
    expect(streamedPlanText([...reask, ev("plan.created", { tasks: [] })])).toBeNull();
    expect(streamedPlanText([planning])).toBeNull();
  });

  it("shows a replan's answer growing afresh, and nothing once the new version is in", () => {
    const created = [ev("job.planning", {}), ev("plan.progress", { attempt: 1, delta: "v1" }), ev("plan.created", {})];
    const replanning = [...created, ev("job.planning", { replan: 1 }), ev("plan.progress", { attempt: 1, delta: "v2" })];
    expect(streamedPlanText(replanning)).toBe("v2");
    expect(streamedPlanText([...replanning, ev("plan.replanned", { version: 2 })])).toBeNull();
  });
});

describe("deltas change nothing", () => {
  it("are told apart from events that change state", () => {
    const events = [ev("task.running", { key: "a" }), delta("a", "x"), delta("a", "y")];
    expect(isDelta(events[1] as JobEvent)).toBe(true);
    expect(isDelta(events[0] as JobEvent)).toBe(false);
    expect(lastChangeId(events)).toBe(events[0]?.id);
    expect(lastChangeId([])).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import {
  STATUS_STYLE,
  TASK_STATUSES,
  foldJobStatus,
  foldTaskStatuses,
  initialStatuses,
  statusFromEventType,
  statusStyle,
} from "./status";

const ev = (id: number, type: string, data: Record<string, unknown> = {}) => ({ id, type, data });

describe("status mapping", () => {
  it("has a distinct label and colour for every task status", () => {
    expect(TASK_STATUSES).toHaveLength(Object.keys(STATUS_STYLE).length);
    const labels = new Set(TASK_STATUSES.map((s) => STATUS_STYLE[s].label));
    const fills = new Set(TASK_STATUSES.map((s) => STATUS_STYLE[s].background));
    expect(labels.size).toBe(TASK_STATUSES.length);
    expect(fills.size).toBe(TASK_STATUSES.length);
    expect(STATUS_STYLE.awaiting_approval.label).toBe("Awaiting approval");
    expect(STATUS_STYLE.succeeded.final).toBe(true);
    expect(STATUS_STYLE.running.final).toBe(false);
    expect(statusStyle("no-such-status").label).toBe("Unknown");
  });

  it("maps task event types to statuses", () => {
    expect(statusFromEventType("task.running")).toBe("running");
    expect(statusFromEventType("task.awaiting_approval")).toBe("awaiting_approval");
    expect(statusFromEventType("task.blocked")).toBe("blocked");
    expect(statusFromEventType("task.pending")).toBe("pending");
    expect(statusFromEventType("task.progress")).toBe("running");
    expect(statusFromEventType("task.retrying")).toBeNull();
    expect(statusFromEventType("critic.verdict")).toBeNull();
    expect(statusFromEventType("policy.decision")).toBeNull();
    expect(statusFromEventType("job.succeeded")).toBeNull();
  });
});

describe("foldTaskStatuses", () => {
  it("follows the demo job to three succeeded tasks", () => {
    const events = [
      ev(3, "plan.created", { tasks: [] }),
      ev(5, "task.ready", { key: "create_checklist", attempt: 1 }),
      ev(6, "task.queued", { key: "create_checklist", attempt: 1 }),
      ev(7, "task.running", { key: "create_checklist", attempt: 1 }),
      ev(8, "task.progress", { key: "create_checklist", attempt: 1, message: "asking" }),
      ev(9, "task.reviewing", { key: "create_checklist", attempt: 1 }),
      ev(10, "critic.verdict", { key: "create_checklist", attempt: 1, verdict: "approve", reasons: [] }),
      ev(11, "task.succeeded", { key: "create_checklist", attempt: 1 }),
      ev(12, "task.ready", { key: "write_artifact", attempt: 1 }),
      ev(13, "task.running", { key: "write_artifact", attempt: 1 }),
    ];
    const initial = initialStatuses(["create_checklist", "write_artifact", "summarize_artifact"]);
    expect(foldTaskStatuses(events, initial)).toEqual({
      create_checklist: "succeeded",
      write_artifact: "running",
      summarize_artifact: "pending",
    });
  });

  it("uses the highest event id, whatever the order, and ignores duplicates", () => {
    const events = [
      ev(20, "task.succeeded", { key: "a" }),
      ev(12, "task.running", { key: "a" }),
      ev(20, "task.succeeded", { key: "a" }),
      ev(15, "task.retrying", { key: "a", error: "timeout" }),
    ];
    expect(foldTaskStatuses(events)).toEqual({ a: "succeeded" });
  });

  it("shows a rework, a block, a skip and an approval wait", () => {
    const events = [
      ev(1, "task.reviewing", { key: "w", attempt: 1 }),
      ev(2, "critic.verdict", { key: "w", attempt: 1, verdict: "rework", reasons: ["empty"] }),
      ev(3, "task.queued", { key: "w", attempt: 2 }),
      ev(4, "policy.decision", { key: "f", decision: "block", rule: "r", reason: "denied" }),
      ev(5, "task.blocked", { key: "f", error: "denied" }),
      ev(6, "task.skipped", { key: "s", reason: "the plan was blocked by policy" }),
      ev(7, "task.awaiting_approval", { key: "x", reason: "needs a person" }),
    ];
    expect(foldTaskStatuses(events, { w: "pending", f: "pending", s: "pending", x: "ready" })).toEqual({
      w: "queued",
      f: "blocked",
      s: "skipped",
      x: "awaiting_approval",
    });
  });

  it("keeps the initial status when no event names the task", () => {
    const tasks = [{ key: "a", status: "failed" as const }];
    expect(foldTaskStatuses([ev(1, "job.failed", { error: "x" })], initialStatuses(["a", "b"], tasks))).toEqual({
      a: "failed",
      b: "pending",
    });
  });
});

describe("a retry", () => {
  const events = [
    ev(5, "task.awaiting_approval", { key: "w", reason: "needs a person" }),
    ev(6, "task.failed", { key: "w", error: "rejected: wrong name" }),
    ev(7, "task.skipped", { key: "s", reason: "a dependency failed" }),
    ev(8, "job.failed", { error: "task 'w' failed" }),
    ev(9, "task.pending", { key: "w", attempt: 2, reason: "retried" }),
    ev(10, "task.pending", { key: "s", attempt: 1, reason: "reopened by the retry of 'w'" }),
    ev(11, "job.running", { retried: "w" }),
    ev(12, "task.awaiting_approval", { key: "w", reason: "needs a person" }),
  ];

  it("puts the retried task and the tasks it skipped back to pending", () => {
    expect(foldTaskStatuses(events.slice(0, 7), { w: "pending", s: "pending" })).toEqual({ w: "pending", s: "pending" });
    expect(foldTaskStatuses(events, { w: "failed", s: "skipped" })).toEqual({ w: "awaiting_approval", s: "pending" });
  });

  it("takes a failed job back to running, whatever the order of the events", () => {
    expect(foldJobStatus(events.slice(0, 4), "running")).toBe("failed");
    expect(foldJobStatus([...events].reverse(), "failed")).toBe("running");
    expect(foldJobStatus([ev(20, "job.succeeded"), ...events], "running")).toBe("succeeded");
    expect(foldJobStatus([], "planning")).toBe("planning");
  });
});

describe("a replan in the event stream", () => {
  it("puts the tasks it added or changed back to pending, after the old ones were superseded", () => {
    const events = [
      ev(1, "task.failed", { key: "notes" }),
      ev(2, "task.superseded", { key: "notes" }),
      ev(3, "task.superseded", { key: "save" }),
      ev(4, "plan.replanned", { diff: { added: ["short"], removed: ["notes"], changed: ["save"] } }),
    ];
    expect(foldTaskStatuses(events, { outline: "succeeded" })).toEqual({
      outline: "succeeded",
      notes: "superseded",
      save: "pending",
      short: "pending",
    });
  });
});

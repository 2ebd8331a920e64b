import { describe, expect, it } from "vitest";
import { axisTicks, buildTimeline, formatOffset, phaseBox, tickStep } from "./timeline";

const T0 = Date.parse("2026-12-06T12:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();
const ev = (id: number, ms: number, type: string, data: Record<string, unknown> = {}) => ({
  id,
  type,
  data,
  created_at: at(ms),
});
const TASKS = [
  { key: "a", title: "Fetch A", tool: "http_fetch" },
  { key: "b", title: "Fetch B", tool: "http_fetch" },
  { key: "c", title: "Join", tool: "text_summarize" },
];
const phases = (timeline: ReturnType<typeof buildTimeline>, key: string) =>
  timeline.rows.find((r) => r.key === key)?.phases.map((p) => [p.kind, p.attempt, p.start, p.end, p.open]);

describe("buildTimeline", () => {
  it("shows two tasks with no dependency between them running at the same time", () => {
    const events = [
      ev(1, 0, "job.created"),
      ev(2, 10, "task.queued", { key: "a", attempt: 1 }),
      ev(3, 10, "task.queued", { key: "b", attempt: 1 }),
      ev(4, 30, "task.running", { key: "a", attempt: 1 }),
      ev(5, 50, "task.running", { key: "b", attempt: 1 }),
      ev(6, 2030, "task.succeeded", { key: "a", attempt: 1 }),
      ev(7, 2060, "task.succeeded", { key: "b", attempt: 1 }),
      ev(8, 2060, "task.queued", { key: "c", attempt: 1 }),
      ev(9, 2070, "task.running", { key: "c", attempt: 1 }),
      ev(10, 2100, "task.succeeded", { key: "c", attempt: 1 }),
      ev(11, 2100, "job.succeeded"),
    ];
    const timeline = buildTimeline(events, TASKS, { now: T0 + 99_999, finished: true });
    expect(timeline.origin).toBe(T0);
    expect(timeline.span).toBe(2100); // a finished job ends at its last event, not at "now"
    expect(timeline.rows.map((r) => r.key)).toEqual(["a", "b", "c"]);
    expect(phases(timeline, "a")).toEqual([
      ["queued", 1, 10, 30, false],
      ["running", 1, 30, 2030, false],
    ]);
    expect(phases(timeline, "b")).toEqual([
      ["queued", 1, 10, 50, false],
      ["running", 1, 50, 2060, false],
    ]);
    expect(phases(timeline, "c")).toEqual([
      ["queued", 1, 2060, 2070, false],
      ["running", 1, 2070, 2100, false],
    ]);
  });

  it("tells review and rework apart, attempt by attempt", () => {
    const events = [
      ev(1, 0, "task.queued", { key: "a", attempt: 1 }),
      ev(2, 100, "task.running", { key: "a", attempt: 1 }),
      ev(3, 300, "task.reviewing", { key: "a", attempt: 1 }),
      ev(4, 500, "critic.verdict", { key: "a", attempt: 1, verdict: "rework", reasons: ["too short"] }),
      ev(5, 500, "task.queued", { key: "a", attempt: 2 }),
      ev(6, 600, "task.running", { key: "a", attempt: 2 }),
      ev(7, 900, "task.reviewing", { key: "a", attempt: 2 }),
      ev(8, 1000, "critic.verdict", { key: "a", attempt: 2, verdict: "approve", reasons: [] }),
      ev(9, 1000, "task.succeeded", { key: "a", attempt: 2 }),
    ];
    expect(phases(buildTimeline(events, TASKS, { now: T0, finished: true }), "a")).toEqual([
      ["queued", 1, 0, 100, false],
      ["running", 1, 100, 300, false],
      ["review", 1, 300, 500, false],
      ["queued", 2, 500, 600, false],
      ["rework", 2, 600, 900, false],
      ["review", 2, 900, 1000, false],
    ]);
    const timeline = buildTimeline(events, TASKS, { now: T0, finished: true });
    expect(timeline.rows[0]?.phases.map((p) => p.rework)).toEqual([false, false, false, true, true, true]);
  });

  it("keeps a retry after a failure a plain run, and shows a wait for a person", () => {
    const events = [
      ev(1, 0, "task.awaiting_approval", { key: "a", reason: "needs a person" }),
      ev(2, 4000, "policy.decision", { key: "a", decision: "approved", rule: "human", reason: "ok" }),
      ev(3, 4000, "task.queued", { key: "a", attempt: 1 }),
      ev(4, 4100, "task.running", { key: "a", attempt: 1 }),
      ev(5, 4200, "task.retrying", { key: "a", attempt: 1, error: "timeout" }),
      ev(6, 4200, "task.queued", { key: "a", attempt: 2, delay_s: 1 }),
      ev(7, 5200, "task.running", { key: "a", attempt: 2 }),
    ];
    const timeline = buildTimeline(events, TASKS, { now: T0 + 6000, finished: false });
    expect(phases(timeline, "a")).toEqual([
      ["approval", 1, 0, 4000, false],
      ["queued", 1, 4000, 4100, false],
      ["running", 1, 4100, 4200, false],
      ["queued", 2, 4200, 5200, false],
      ["running", 2, 5200, 6000, true], // still running: up to now
    ]);
    expect(timeline.span).toBe(6000);
  });

  it("ignores duplicates and order, starts a phase on progress, and lists tasks only events name", () => {
    const events = [
      ev(3, 300, "task.succeeded", { key: "x", attempt: 1 }),
      ev(2, 100, "task.progress", { key: "x", attempt: 1, message: "working" }),
      ev(2, 100, "task.progress", { key: "x", attempt: 1, message: "working" }),
      ev(1, 0, "job.created"),
    ];
    const timeline = buildTimeline(events, TASKS, { now: T0, finished: true });
    expect(timeline.rows.map((r) => r.key)).toEqual(["a", "b", "c", "x"]);
    expect(phases(timeline, "x")).toEqual([["running", 1, 100, 300, false]]);
    expect(phases(timeline, "a")).toEqual([]);
  });

  it("has an axis of at least 1 ms when nothing happened yet", () => {
    const timeline = buildTimeline([], TASKS, { now: T0, finished: false });
    expect(timeline.span).toBe(1);
    expect(timeline.rows).toHaveLength(3);
  });
});

describe("the time axis", () => {
  it("picks round steps", () => {
    expect(tickStep(18)).toBe(5);
    expect(tickStep(2100)).toBe(500);
    expect(tickStep(60_000)).toBe(10_000);
    expect(axisTicks(2100)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(axisTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it("says offsets in words", () => {
    expect(formatOffset(0)).toBe("0");
    expect(formatOffset(250)).toBe("250 ms");
    expect(formatOffset(1500)).toBe("1.5 s");
    expect(formatOffset(150_000)).toBe("2 min 30 s");
    expect(formatOffset(120_000)).toBe("2 min");
  });

  it("places a phase as a share of the axis, never outside it", () => {
    expect(phaseBox({ start: 500, end: 1500 }, 2000)).toEqual({ left: 25, width: 50 });
    expect(phaseBox({ start: 1500, end: 3000 }, 2000)).toEqual({ left: 75, width: 25 });
    expect(phaseBox({ start: 100, end: 100 }, 2000)).toEqual({ left: 5, width: 0 });
  });
});

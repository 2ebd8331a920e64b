import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { JobEvent } from "@/hooks/useJobEvents";
import { PlanView } from "./PlanView";
import { stubResizeObserver } from "@/test/stubs";

const T0 = Date.parse("2026-12-06T12:00:00Z");
const ev = (id: number, ms: number, type: string, data: Record<string, unknown> = {}): JobEvent => ({
  id,
  job_id: "j",
  type,
  task_id: null,
  data,
  created_at: new Date(T0 + ms).toISOString(),
});
const TASKS = [
  { key: "a", title: "Fetch A", tool: "http_fetch", depends_on: [] },
  { key: "b", title: "Fetch B", tool: "http_fetch", depends_on: [] },
];
const EVENTS = [
  ev(1, 0, "job.created"),
  ev(2, 0, "task.queued", { key: "a", attempt: 1 }),
  ev(3, 0, "task.queued", { key: "b", attempt: 1 }),
  ev(4, 100, "task.running", { key: "a", attempt: 1 }),
  ev(5, 200, "task.running", { key: "b", attempt: 1 }),
  ev(6, 2100, "task.succeeded", { key: "a", attempt: 1 }),
  ev(7, 2200, "task.succeeded", { key: "b", attempt: 1 }),
  ev(8, 2200, "job.succeeded"),
];

beforeEach(() => {
  stubResizeObserver();
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("PlanView", () => {
  it("switches between the graph and the timeline as tabs, by click or arrow keys", () => {
    const onSelect = vi.fn();
    render(<PlanView tasks={TASKS} statuses={{}} events={EVENTS} finished selected={null} onSelect={onSelect} />);
    const graphTab = screen.getByRole("tab", { name: "Graph" });
    const timelineTab = screen.getByRole("tab", { name: "Timeline" });
    expect(graphTab.getAttribute("aria-selected")).toBe("true");
    expect(screen.getByRole("tabpanel").getAttribute("aria-labelledby")).toBe(graphTab.id);
    expect(screen.getByTestId("plan-graph")).toBeTruthy();

    fireEvent.keyDown(graphTab, { key: "ArrowRight" });
    expect(timelineTab.getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe(timelineTab);
    expect(screen.queryByTestId("plan-graph")).toBeNull();

    const timeline = screen.getByTestId("timeline");
    const bars = within(timeline).getAllByRole("img");
    expect(bars.map((b) => b.dataset.kind)).toEqual(["queued", "running", "queued", "running"]);
    const running = bars.filter((b) => b.dataset.kind === "running");
    // On a 2.2 s axis: A runs from 0.1 s, B from 0.2 s, both for 2 s: they overlap.
    const box = (b: HTMLElement) => [parseFloat(b.style.left), parseFloat(b.style.width)].map((n) => Math.round(n * 10) / 10);
    expect(running.map(box)).toEqual([
      [4.5, 90.9],
      [9.1, 90.9],
    ]);
    expect(running[0]?.getAttribute("aria-label")).toBe("Fetch A (a), attempt 1: Running for 2 s, from 100 ms");
    expect(within(timeline).getByLabelText("Timeline colours").textContent).toContain("Critic review");

    fireEvent.click(within(timeline).getByRole("button", { name: "Fetch B" }));
    expect(onSelect).toHaveBeenCalledWith("b");
    fireEvent.click(graphTab);
    expect(screen.getByTestId("plan-graph")).toBeTruthy();
  });
});

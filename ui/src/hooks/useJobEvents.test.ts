import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fakeTransport } from "@/test/fakeTransport";
import { EVENT_TYPES, useJobEvents } from "./useJobEvents";
import openapi from "../../openapi.json";

const JOB = "202de8da-86cf-4abf-adae-e8a2617f7ae8";
const EVENTS_URL = `http://api.test/jobs/${JOB}/events`;

const jobEvents = () =>
  fakeTransport((id, type, data) => ({ job_id: JOB, type, task_id: null, data, id, created_at: "2026-11-24T20:35:44Z" }));

function render(fake: ReturnType<typeof jobEvents>, backoffMs: (n: number) => number = () => 1000) {
  return renderHook(() => useJobEvents(JOB, { transport: fake.transport, backoffMs }));
}

describe("useJobEvents", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("lists every event type of the API, task.pending included", () => {
    // Every type of the API's Event schema (ui/openapi.json, from `make ui-client`), and no other.
    expect([...EVENT_TYPES].sort()).toEqual([...openapi.components.schemas.Event.properties.type.enum].sort());
    expect(EVENT_TYPES).toContain("task.pending");
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
  });

  it("resumes after a drop with ?after=<last id>, without duplicates", async () => {
    const fake = jobEvents();
    const { result } = render(fake);
    expect(result.current.status).toBe("connecting");
    expect(fake.connections.map((c) => c.url)).toEqual([EVENTS_URL]);

    fake.open();
    expect(result.current.status).toBe("live");
    fake.send(1, "job.created", { goal: "g" });
    fake.send(2, "job.planning");
    fake.send(7, "task.running", { key: "create_checklist", attempt: 1 });

    fake.drop();
    expect(result.current.status).toBe("reconnecting");
    expect(fake.connections[0]?.closed).toBe(true);
    expect(fake.connections).toHaveLength(1);

    await act(async () => {
      vi.advanceTimersByTime(1000);
    });
    expect(fake.connections.map((c) => c.url)).toEqual([EVENTS_URL, `${EVENTS_URL}?after=7`]);
    expect(result.current.status).toBe("reconnecting");

    fake.open();
    expect(result.current.status).toBe("live");
    // A server (or proxy) that replays an event we already have must not duplicate it.
    fake.send(7, "task.running", { key: "create_checklist", attempt: 1 });
    fake.send(8, "task.progress", { key: "create_checklist", attempt: 1, message: "asking" });
    fake.send(8, "task.progress", { key: "create_checklist", attempt: 1, message: "asking" });
    expect(result.current.events.map((e) => e.id)).toEqual([1, 2, 7, 8]);
  });

  it("stays live through a job.failed that a retry superseded and keeps every event once", () => {
    const fake = jobEvents();
    const { result } = render(fake);
    fake.open();
    fake.send(1, "job.created");
    fake.send(9, "task.blocked", { key: "fetch", error: "denied" });
    fake.send(10, "job.failed", { error: "task 'fetch' was blocked" });
    fake.send(11, "task.pending", { key: "fetch", attempt: 2, reason: "retried" });
    fake.send(12, "job.running", { retried: "fetch" });
    fake.send(12, "job.running", { retried: "fetch" });
    fake.send(13, "task.ready", { key: "fetch", attempt: 2 });

    expect(result.current.status).toBe("live");
    expect(fake.current().closed).toBe(false);
    expect(result.current.events.map((e) => [e.id, e.type])).toEqual([
      [1, "job.created"],
      [9, "task.blocked"],
      [10, "job.failed"],
      [11, "task.pending"],
      [12, "job.running"],
      [13, "task.ready"],
    ]);
  });

  it("ends when the server closes the stream after a terminal last event, and does not reconnect", async () => {
    const fake = jobEvents();
    const { result } = render(fake);
    fake.open();
    fake.send(1, "job.created");
    fake.send(21, "job.succeeded");
    expect(result.current.status).toBe("live"); // not the end until the server closes the stream

    fake.drop();
    expect(result.current.status).toBe("ended");
    expect(fake.current().closed).toBe(true);
    fake.drop(); // a closed stream reporting another error changes nothing
    await act(async () => {
      vi.advanceTimersByTime(60_000);
    });
    expect(fake.connections).toHaveLength(1);
    expect(result.current.status).toBe("ended");
  });

  it("reconnects with ?after=<last id> when the stream closes without a terminal last event", async () => {
    const fake = jobEvents();
    const { result } = render(fake);
    fake.open();
    fake.send(10, "job.failed", { error: "x" });
    fake.send(11, "task.pending", { key: "a", attempt: 2, reason: "retried" });
    fake.drop();
    expect(result.current.status).toBe("reconnecting");
    await act(async () => {
      vi.advanceTimersByTime(1000);
    });
    expect(fake.current().url).toBe(`${EVENTS_URL}?after=11`);
  });

  it("resume() after the end follows the reopened job from the last event, without duplicates", () => {
    const fake = jobEvents();
    const { result } = render(fake);
    fake.open();
    fake.send(1, "job.created");
    fake.send(10, "job.failed", { error: "x" });
    fake.drop();
    expect(result.current.status).toBe("ended");

    act(() => result.current.resume());
    expect(result.current.status).toBe("connecting");
    expect(fake.connections.map((c) => c.url)).toEqual([EVENTS_URL, `${EVENTS_URL}?after=10`]);
    fake.open();
    expect(result.current.status).toBe("live");
    fake.send(10, "job.failed", { error: "x" });
    fake.send(11, "task.pending", { key: "a", attempt: 2, reason: "retried" });
    fake.send(12, "job.running", { retried: "a" });
    fake.send(20, "job.succeeded");
    fake.drop();
    expect(result.current.status).toBe("ended");
    expect(result.current.events.map((e) => e.id)).toEqual([1, 10, 11, 12, 20]);
  });

  it("resume() while connected follows once more after that connection ends, even on a terminal event", () => {
    const fake = jobEvents();
    const { result } = render(fake);
    fake.open();
    fake.send(10, "job.failed", { error: "x" });
    act(() => result.current.resume()); // the retry committed before the server closed this stream
    expect(fake.connections).toHaveLength(1);
    fake.drop();
    expect(fake.connections.map((c) => c.url)).toEqual([EVENTS_URL, `${EVENTS_URL}?after=10`]);
    expect(result.current.status).toBe("connecting");
    fake.open();
    fake.send(11, "job.running", { retried: "a" });
    expect(result.current.status).toBe("live");
  });

  it("keeps retrying with growing backoff while the API is unreachable", async () => {
    const fake = jobEvents();
    const delays: number[] = [];
    const { result } = render(fake, (n) => {
      delays.push(n);
      return 100 * n;
    });
    fake.open();
    fake.send(3, "job.created");
    fake.drop();
    await act(async () => {
      vi.advanceTimersByTime(100);
    });
    fake.drop(); // the reconnect fails before opening
    expect(result.current.status).toBe("reconnecting");
    await act(async () => {
      vi.advanceTimersByTime(200);
    });
    expect(delays).toEqual([1, 2]);
    expect(fake.connections.map((c) => c.url)).toEqual([EVENTS_URL, `${EVENTS_URL}?after=3`, `${EVENTS_URL}?after=3`]);
    fake.open();
    fake.send(4, "job.cancelled", { error: "cancelled by user" });
    fake.drop();
    expect(result.current.status).toBe("ended");
    expect(result.current.events.map((e) => e.type)).toEqual(["job.created", "job.cancelled"]);
  });

  it("closes the connection on unmount and does not reconnect", async () => {
    const fake = jobEvents();
    const { unmount } = render(fake, () => 10);
    fake.open();
    unmount();
    expect(fake.connections[0]?.closed).toBe(true);
    await act(async () => {
      vi.advanceTimersByTime(1000);
    });
    expect(fake.connections).toHaveLength(1);
  });

  it("ignores messages that are not events", () => {
    const fake = jobEvents();
    const { result } = render(fake);
    fake.open();
    act(() => fake.current().handlers.onMessage({ id: "", event: "message", data: "not json" }));
    fake.send(5, "job.created");
    expect(result.current.events.map((e) => e.id)).toEqual([5]);
  });
});

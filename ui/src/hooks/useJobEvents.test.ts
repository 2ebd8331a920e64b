import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useJobEvents, type StreamHandlers, type StreamTransport } from "./useJobEvents";

const JOB = "202de8da-86cf-4abf-adae-e8a2617f7ae8";

/** A fake SSE transport: records each connection; tests push messages and drops. */
function fakeTransport() {
  const connections: { url: string; handlers: StreamHandlers; closed: boolean }[] = [];
  const transport: StreamTransport = (url, handlers) => {
    const connection = { url, handlers, closed: false };
    connections.push(connection);
    return { close: () => void (connection.closed = true) };
  };
  const current = () => {
    const last = connections[connections.length - 1];
    if (!last) throw new Error("no connection");
    return last;
  };
  const send = (id: number, type: string, data: Record<string, unknown> = {}) =>
    act(() =>
      current().handlers.onMessage({
        id: String(id),
        event: type,
        data: JSON.stringify({ job_id: JOB, type, task_id: null, data, id, created_at: "2026-11-24T20:35:44Z" }),
      }),
    );
  return {
    transport,
    connections,
    current,
    send,
    open: () => act(() => current().handlers.onOpen()),
    drop: () => act(() => current().handlers.onError()),
  };
}

describe("useJobEvents", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("resumes after a drop with ?after=<last id>, without duplicates, and ends on the terminal event", async () => {
    const fake = fakeTransport();
    const { result } = renderHook(() =>
      useJobEvents(JOB, { transport: fake.transport, backoffMs: () => 1000 }),
    );
    expect(result.current.status).toBe("connecting");
    expect(fake.connections).toHaveLength(1);
    expect(fake.current().url).toBe(`http://api.test/jobs/${JOB}/events`);

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
    expect(fake.connections).toHaveLength(2);
    expect(fake.current().url).toBe(`http://api.test/jobs/${JOB}/events?after=7`);
    expect(result.current.status).toBe("reconnecting");

    fake.open();
    expect(result.current.status).toBe("live");
    // A server (or proxy) that replays an event we already have must not duplicate it.
    fake.send(7, "task.running", { key: "create_checklist", attempt: 1 });
    fake.send(8, "task.progress", { key: "create_checklist", attempt: 1, message: "asking" });
    fake.send(8, "task.progress", { key: "create_checklist", attempt: 1, message: "asking" });
    fake.send(21, "job.succeeded");

    expect(result.current.status).toBe("ended");
    expect(result.current.events.map((e) => e.id)).toEqual([1, 2, 7, 8, 21]);
    expect(fake.current().closed).toBe(true);

    // Nothing reconnects after the end, even if the closed stream reports an error.
    fake.drop();
    await act(async () => {
      vi.advanceTimersByTime(60_000);
    });
    expect(fake.connections).toHaveLength(2);
    expect(result.current.status).toBe("ended");
  });

  it("keeps retrying with growing backoff while the API is unreachable", async () => {
    const fake = fakeTransport();
    const delays: number[] = [];
    const { result } = renderHook(() =>
      useJobEvents(JOB, {
        transport: fake.transport,
        backoffMs: (n) => {
          delays.push(n);
          return 100 * n;
        },
      }),
    );
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
    expect(fake.connections.map((c) => c.url)).toEqual([
      `http://api.test/jobs/${JOB}/events`,
      `http://api.test/jobs/${JOB}/events?after=3`,
      `http://api.test/jobs/${JOB}/events?after=3`,
    ]);
    fake.open();
    fake.send(4, "job.cancelled", { error: "cancelled by user" });
    expect(result.current.status).toBe("ended");
    expect(result.current.events.map((e) => e.type)).toEqual(["job.created", "job.cancelled"]);
  });

  it("closes the connection on unmount and does not reconnect", async () => {
    const fake = fakeTransport();
    const { unmount } = renderHook(() =>
      useJobEvents(JOB, { transport: fake.transport, backoffMs: () => 10 }),
    );
    fake.open();
    unmount();
    expect(fake.connections[0]?.closed).toBe(true);
    await act(async () => {
      vi.advanceTimersByTime(1000);
    });
    expect(fake.connections).toHaveLength(1);
  });

  it("ignores messages that are not events", () => {
    const fake = fakeTransport();
    const { result } = renderHook(() => useJobEvents(JOB, { transport: fake.transport }));
    fake.open();
    act(() => fake.current().handlers.onMessage({ id: "", event: "message", data: "not json" }));
    fake.send(5, "job.created");
    expect(result.current.events.map((e) => e.id)).toEqual([5]);
  });
});

import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fakeTransport } from "@/test/fakeTransport";
import { parseChange, useJobChanges, type JobsChange } from "./useJobChanges";

const A = "202de8da-86cf-4abf-adae-e8a2617f7ae8";

describe("useJobChanges", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("reports everything on ready, then the changed jobs, and reconnects after a drop", async () => {
    const fake = fakeTransport(() => ({}));
    const changes: JobsChange[] = [];
    const { result, unmount } = renderHook(() =>
      useJobChanges((change) => changes.push(change), { transport: fake.transport, backoffMs: (n) => 100 * n }),
    );
    expect(fake.current().url).toBe("http://api.test/jobs/changes");
    expect(result.current.status).toBe("connecting");
    fake.open();
    expect(result.current.status).toBe("connecting"); // live once the server says it listens

    fake.emit("ready", {});
    expect(result.current.status).toBe("live");
    fake.emit("jobs.changed", { job_ids: [A], all: false });
    fake.emit("jobs.changed", { job_ids: [], all: true });
    expect(changes).toEqual([
      { all: true, jobIds: [] },
      { all: false, jobIds: [A] },
      { all: true, jobIds: [] },
    ]);

    fake.drop();
    expect(result.current.status).toBe("reconnecting");
    expect(fake.connections[0]?.closed).toBe(true);
    await act(async () => {
      vi.advanceTimersByTime(100);
    });
    fake.drop(); // still down
    await act(async () => {
      vi.advanceTimersByTime(200);
    });
    expect(fake.connections.map((c) => c.url)).toEqual(Array(3).fill("http://api.test/jobs/changes"));
    fake.open();
    expect(result.current.status).toBe("reconnecting");
    fake.emit("ready", {});
    expect(result.current.status).toBe("live");
    expect(changes).toHaveLength(4); // the list is read again after every reconnect

    unmount();
    expect(fake.current().closed).toBe(true);
  });

  it("connects only while enabled", () => {
    const fake = fakeTransport(() => ({}));
    const { rerender } = renderHook(({ enabled }) => useJobChanges(() => undefined, { enabled, transport: fake.transport }), {
      initialProps: { enabled: false },
    });
    expect(fake.connections).toHaveLength(0);
    rerender({ enabled: true });
    expect(fake.connections).toHaveLength(1);
    rerender({ enabled: false });
    expect(fake.current().closed).toBe(true);
  });

  it("ignores keepalives and other events; a garbled change means everything", () => {
    expect(parseChange({ id: "", event: "message", data: "" })).toBeNull();
    expect(parseChange({ id: "", event: "jobs.changed", data: "{oops" })).toEqual({ all: true, jobIds: [] });
    expect(parseChange({ id: "", event: "jobs.changed", data: `{"job_ids":["${A}"]}` })).toEqual({
      all: false,
      jobIds: [A],
    });
  });
});

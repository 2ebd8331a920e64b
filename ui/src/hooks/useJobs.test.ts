import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeTransport } from "@/test/fakeTransport";
import { IDLE_REFRESH_MS, useJobs } from "./useJobs";

type Listed = { id: string; status: string };

function deferredFetch() {
  const calls: { url: string; resolve: (items: Listed[]) => void }[] = [];
  const fetch = vi.fn(
    (request: Request) =>
      new Promise<Response>((resolve) => {
        calls.push({
          url: request.url,
          resolve: (items) =>
            resolve(new Response(JSON.stringify({ items }), { headers: { "Content-Type": "application/json" } })),
        });
      }),
  );
  return { fetch, calls };
}

const running = (id: string): Listed => ({ id, status: "running" });
const done = (id: string): Listed => ({ id, status: "succeeded" });

function setVisibility(state: "visible" | "hidden") {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  document.dispatchEvent(new Event("visibilitychange"));
}

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
  setVisibility("visible");
});

describe("useJobs while a listed job runs", () => {
  it("reads the list on ready and on jobs.changed, one read at a time and one more after a burst", async () => {
    const fake = fakeTransport(() => ({}));
    const { fetch, calls } = deferredFetch();
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobs("", { transport: fake.transport }));
    expect(calls.map((c) => c.url)).toEqual(["http://api.test/jobs?limit=100"]);
    expect(fake.connections).toHaveLength(0); // nothing known to run yet: no stream
    await act(async () => calls[0]?.resolve([running("a")]));
    expect(fake.connections).toHaveLength(1);

    fake.open();
    fake.emit("ready", {});
    fake.emit("jobs.changed", { job_ids: ["a"], all: false });
    fake.emit("jobs.changed", { job_ids: ["b"], all: false });
    expect(calls).toHaveLength(2); // the read on ready is still running
    expect(result.current.live).toBe("live");

    await act(async () => calls[1]?.resolve([running("a")]));
    expect(calls).toHaveLength(3); // one more read covers the two changes
    await act(async () => calls[2]?.resolve([running("b"), running("a")]));
    expect(calls).toHaveLength(3);
    expect(result.current.data?.map((j) => j.id)).toEqual(["b", "a"]);
    expect(result.current.loading).toBe(false);
  });

  it("says when the live connection is lost", async () => {
    const fake = fakeTransport(() => ({}));
    const { fetch, calls } = deferredFetch();
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobs("failed", { transport: fake.transport }));
    await act(async () => calls[0]?.resolve([running("a")]));
    fake.open();
    fake.emit("ready", {});
    fake.drop();
    expect(result.current.live).toBe("reconnecting");
  });

  it("closes the stream once every listed job has finished", async () => {
    const fake = fakeTransport(() => ({}));
    const { fetch, calls } = deferredFetch();
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobs("", { transport: fake.transport }));
    await act(async () => calls[0]?.resolve([running("a")]));
    fake.open();
    fake.emit("jobs.changed", { job_ids: ["a"], all: false });
    await act(async () => calls[1]?.resolve([done("a")]));
    expect(fake.connections[0]?.closed).toBe(true);
    expect(result.current.live).toBe("idle");
  });
});

describe("useJobs while nothing listed runs", () => {
  it("holds no connection: reads every 10 s while visible, not while hidden, and at once when shown again", async () => {
    vi.useFakeTimers();
    const fake = fakeTransport(() => ({}));
    const { fetch, calls } = deferredFetch();
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobs("", { transport: fake.transport }));
    await act(async () => calls[0]?.resolve([done("a")]));
    expect(result.current.live).toBe("idle");
    expect(fake.connections).toHaveLength(0);

    await act(async () => vi.advanceTimersByTime(IDLE_REFRESH_MS - 1));
    expect(calls).toHaveLength(1);
    await act(async () => vi.advanceTimersByTime(1));
    expect(calls).toHaveLength(2);
    await act(async () => calls[1]?.resolve([done("a")]));

    act(() => setVisibility("hidden"));
    await act(async () => vi.advanceTimersByTime(5 * IDLE_REFRESH_MS));
    expect(calls).toHaveLength(2);
    act(() => setVisibility("visible"));
    expect(calls).toHaveLength(3);

    // A job submitted elsewhere shows up, running: the list follows it live.
    await act(async () => calls[2]?.resolve([running("b"), done("a")]));
    expect(fake.connections).toHaveLength(1);
    expect(result.current.live).toBe("connecting");
    await act(async () => vi.advanceTimersByTime(5 * IDLE_REFRESH_MS));
    expect(calls).toHaveLength(3); // no polling while the stream is there
  });

  it("shows an empty list as idle too", async () => {
    const fake = fakeTransport(() => ({}));
    const { fetch, calls } = deferredFetch();
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobs("", { transport: fake.transport }));
    expect(result.current.live).toBe("connecting");
    await act(async () => calls[0]?.resolve([]));
    await waitFor(() => expect(result.current.live).toBe("idle"));
    expect(fake.connections).toHaveLength(0);
  });
});

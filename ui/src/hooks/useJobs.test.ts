import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeTransport } from "@/test/fakeTransport";
import { useJobs } from "./useJobs";

function deferredFetch() {
  const calls: { url: string; resolve: (items: { id: string }[]) => void }[] = [];
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

afterEach(() => vi.unstubAllGlobals());

describe("useJobs", () => {
  it("reads the list on ready and on jobs.changed, one read at a time and one more after a burst", async () => {
    const fake = fakeTransport(() => ({}));
    const { fetch, calls } = deferredFetch();
    vi.stubGlobal("fetch", fetch);
    const { result } = renderHook(() => useJobs("", { transport: fake.transport }));
    expect(calls.map((c) => c.url)).toEqual(["http://api.test/jobs?limit=100"]);

    fake.open();
    fake.emit("ready", {});
    fake.emit("jobs.changed", { job_ids: ["a"], all: false });
    fake.emit("jobs.changed", { job_ids: ["b"], all: false });
    expect(calls).toHaveLength(1); // the first read is still running
    expect(result.current.live).toBe("live");

    await act(async () => calls[0]?.resolve([{ id: "a" }]));
    expect(calls).toHaveLength(2); // one more read covers the three changes
    await act(async () => calls[1]?.resolve([{ id: "b" }, { id: "a" }]));
    expect(calls).toHaveLength(2);
    expect(result.current.data?.map((j) => j.id)).toEqual(["b", "a"]);
    expect(result.current.loading).toBe(false);

    fake.emit("jobs.changed", { job_ids: ["c"], all: false });
    expect(calls).toHaveLength(3);
    await act(async () => calls[2]?.resolve([{ id: "c" }, { id: "b" }, { id: "a" }]));
    await waitFor(() => expect(result.current.data).toHaveLength(3));
  });

  it("says when the live connection is lost", () => {
    const fake = fakeTransport(() => ({}));
    vi.stubGlobal("fetch", deferredFetch().fetch);
    const { result } = renderHook(() => useJobs("failed", { transport: fake.transport }));
    fake.open();
    fake.emit("ready", {});
    fake.drop();
    expect(result.current.live).toBe("reconnecting");
  });
});

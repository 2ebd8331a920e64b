import { afterEach, describe, expect, it, vi } from "vitest";
import { newAccessEpoch, accessEpoch, onAccessSignal, type AccessSignal } from "./access";
import { api, apiFetch } from "./client";

afterEach(() => vi.unstubAllGlobals());

function recordFetch(status = 200) {
  const sent: Request[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      sent.push(request);
      await gate;
      return new Response("{}", { status, headers: { "Content-Type": "application/json" } });
    }),
  );
  return { sent, release };
}

describe("apiFetch", () => {
  it("gives every state-changing call a JSON body and leaves reads alone", async () => {
    const { sent, release } = recordFetch();
    release();
    await api.POST("/jobs/{job_id}/cancel", { params: { path: { job_id: "j" } } });
    await api.POST("/tasks/{task_id}/approve", { params: { path: { task_id: "t" } }, body: { comment: "ok" } });
    await api.GET("/jobs", {});
    expect(sent.map((r) => [r.method, r.headers.get("Content-Type")])).toEqual([
      ["POST", "application/json"],
      ["POST", "application/json"],
      ["GET", null],
    ]);
    expect(await sent[0]?.text()).toBe("{}");
    expect(await sent[1]?.json()).toEqual({ comment: "ok" });
  });

  it("reports a 401 with the sign-in generation the call started in", async () => {
    const { release } = recordFetch(401);
    const signals: AccessSignal[] = [];
    const stop = onAccessSignal((s) => signals.push(s));
    try {
      const before = accessEpoch();
      const pending = apiFetch(new Request("http://api.test/jobs"));
      newAccessEpoch(); // signed in while the call was in flight: its 401 is stale news
      release();
      expect((await pending).status).toBe(401);
      expect(signals).toEqual([{ kind: "unauthorized", epoch: before }]);
      expect(accessEpoch()).toBe(before + 1);
    } finally {
      stop();
    }
  });
});

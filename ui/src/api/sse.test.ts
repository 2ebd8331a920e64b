import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEventSource } from "@/test/fakeAuthApi";
import { onAccessSignal, type AccessSignal } from "./access";
import { defaultBackoff, eventSourceTransport } from "./sse";

let signals: AccessSignal[] = [];
let stopListening: () => void = () => undefined;

function connect() {
  const handlers = { onOpen: vi.fn(), onMessage: vi.fn(), onError: vi.fn() };
  eventSourceTransport(["ready"])("http://api.test/jobs/changes", handlers);
  const source = FakeEventSource.instances.at(-1);
  if (!source) throw new Error("no EventSource");
  return { source, handlers };
}

beforeEach(() => {
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
  signals = [];
  stopListening = onAccessSignal((signal) => signals.push(signal));
});

afterEach(() => {
  stopListening();
  vi.unstubAllGlobals();
});

describe("eventSourceTransport", () => {
  it("signals a stream refused before it opened (a 401 looks like this to EventSource)", () => {
    const { source, handlers } = connect();
    source.refuse();
    expect(handlers.onError).toHaveBeenCalledTimes(1);
    expect(signals).toEqual([{ kind: "stream-refused" }]);
  });

  it("says nothing about access when the network drops before it opened", () => {
    const { source, handlers } = connect();
    source.drop();
    expect(handlers.onError).toHaveBeenCalledTimes(1);
    expect(source.readyState).toBe(2); // closed by the transport: the caller decides how to resume
    expect(signals).toEqual([]);
  });

  it("says nothing about access when an opened stream ends", () => {
    const { source, handlers } = connect();
    source.onopen?.();
    source.refuse();
    expect(handlers.onOpen).toHaveBeenCalledTimes(1);
    expect(handlers.onError).toHaveBeenCalledTimes(1);
    expect(signals).toEqual([]);
  });
});

describe("defaultBackoff", () => {
  it("doubles to 10 s, each wait a random point in the upper half of its step", () => {
    expect([1, 2, 3, 6, 9].map((attempt) => defaultBackoff(attempt, () => 0))).toEqual([250, 500, 1000, 5000, 5000]);
    expect([1, 2, 3, 6, 9].map((attempt) => defaultBackoff(attempt, () => 1))).toEqual([500, 1000, 2000, 10_000, 10_000]);
    const spread = new Set(Array.from({ length: 20 }, () => defaultBackoff(4)));
    expect(spread.size).toBeGreaterThan(1); // pages that failed together do not retry together
  });
});

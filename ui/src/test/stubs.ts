import { vi } from "vitest";

/** jsdom has no ResizeObserver, which React Flow needs to measure its nodes: one that observes nothing. */
export function stubResizeObserver() {
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
}

import { useEffect, useRef } from "react";

export interface RefreshOptions {
  /** Refresh only while true. */
  enabled: boolean;
  /** Between two refreshes while the page stays visible. */
  intervalMs: number;
}

const hidden = () => typeof document !== "undefined" && document.visibilityState === "hidden";

/**
 * Light polling instead of a held connection: calls `refresh` every `intervalMs` while the page is
 * visible, none while it is hidden, and at once when it becomes visible again or the window regains
 * focus (someone comes back to look). Nothing stays open between two calls.
 */
export function useRefreshWhileVisible(refresh: () => void, { enabled, intervalMs }: RefreshOptions) {
  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;

  useEffect(() => {
    if (!enabled) return;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = hidden() ? null : setTimeout(tick, intervalMs);
    };
    const tick = () => {
      refreshRef.current();
      schedule();
    };
    const onBack = () => {
      if (!hidden()) refreshRef.current();
      schedule();
    };
    document.addEventListener("visibilitychange", onBack);
    window.addEventListener("focus", onBack);
    schedule();
    return () => {
      if (timer) clearTimeout(timer);
      document.removeEventListener("visibilitychange", onBack);
      window.removeEventListener("focus", onBack);
    };
  }, [enabled, intervalMs]);
}

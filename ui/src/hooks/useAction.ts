import { useCallback, useState } from "react";

/**
 * One button's call to the API: `busy` while it runs, `error` in words when it fails, `onDone` after
 * it succeeds. `run` takes the call to make.
 */
export function useAction(onDone?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(
    async (call: () => Promise<unknown>) => {
      setBusy(true);
      setError(null);
      try {
        await call();
        onDone?.();
      } catch (thrown) {
        setError(thrown instanceof Error ? thrown.message : String(thrown));
      } finally {
        setBusy(false);
      }
    },
    [onDone],
  );
  return { run, busy, error };
}

import { useCallback, useEffect, useRef, useState } from "react";

export interface Resource<T> {
  data: T | undefined;
  /** A readable message when the last load failed (the previous data is kept). */
  error: string | null;
  loading: boolean;
  reload: () => void;
}

interface Options {
  /** Reload every `pollMs` milliseconds while mounted (0: never). */
  pollMs?: number;
  /** Skip loading (e.g. no id yet). */
  enabled?: boolean;
}

/**
 * Plain React state around one loader. `key` identifies what is loaded: when it changes the
 * data is reset and loaded again. Loads that finish out of order are ignored.
 */
export function useResource<T>(
  key: string,
  load: () => Promise<T>,
  { pollMs = 0, enabled = true }: Options = {},
): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState<boolean>(enabled);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);

  const run = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    loadRef.current().then(
      (value) => {
        if (mine !== seq.current) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (thrown: unknown) => {
        if (mine !== seq.current) return;
        setError(thrown instanceof Error ? thrown.message : String(thrown));
        setLoading(false);
      },
    );
  }, []);

  useEffect(() => {
    const sequence = seq;
    setData(undefined);
    setError(null);
    if (!enabled) {
      setLoading(false);
      return;
    }
    run();
    if (!pollMs) {
      return () => {
        sequence.current++;
      };
    }
    const timer = setInterval(run, pollMs);
    return () => {
      clearInterval(timer);
      sequence.current++;
    };
  }, [key, enabled, pollMs, run]);

  return { data, error, loading, reload: run };
}

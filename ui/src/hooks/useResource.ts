import { useCallback, useEffect, useRef, useState } from "react";

export interface Resource<T> {
  data: T | undefined;
  /** A readable message when the last load failed (the previous data is kept). */
  error: string | null;
  loading: boolean;
  /** Load again. One load runs at a time: calls during a load make one more load after it. */
  reload: () => void;
}

interface Options {
  /** Skip loading (e.g. no id yet). */
  enabled?: boolean;
}

interface Flight {
  /** Bumped when `key` changes: a load of an older generation is ignored. */
  generation: number;
  running: boolean;
  again: boolean;
}

/**
 * Plain React state around one loader. `key` identifies what is loaded: when it changes the data is
 * reset and loaded again at once (a load of the previous key still running is ignored). Reloads never
 * overlap, so bursts of changes cost at most one load in flight and one after it.
 */
export function useResource<T>(
  key: string,
  load: () => Promise<T>,
  { enabled = true }: Options = {},
): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState<boolean>(enabled);
  const loadRef = useRef(load);
  loadRef.current = load;
  const flight = useRef<Flight>({ generation: 0, running: false, again: false });

  const run = useCallback(function start() {
    const state = flight.current;
    if (state.running) {
      state.again = true;
      return;
    }
    const mine = state.generation;
    state.running = true;
    setLoading(true);
    const settle = (apply: () => void) => {
      if (mine !== state.generation) return;
      apply();
      state.running = false;
      if (state.again) {
        state.again = false;
        start();
      } else {
        setLoading(false);
      }
    };
    loadRef.current().then(
      (value) =>
        settle(() => {
          setData(value);
          setError(null);
        }),
      (thrown: unknown) => settle(() => setError(thrown instanceof Error ? thrown.message : String(thrown))),
    );
  }, []);

  useEffect(() => {
    const state = flight.current;
    setData(undefined);
    setError(null);
    if (!enabled) {
      setLoading(false);
      return;
    }
    run();
    return () => {
      state.generation += 1;
      state.running = false;
      state.again = false;
    };
  }, [key, enabled, run]);

  return { data, error, loading, reload: run };
}

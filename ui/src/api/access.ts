/**
 * News that this browser may have lost access, from wherever it shows: an API call answered 401, or a
 * live stream was refused (EventSource cannot read status codes). The session provider listens.
 */

export type AccessSignal =
  /** A call was answered 401; `epoch` is the sign-in generation the call was made in. */
  | { kind: "unauthorized"; epoch: number }
  /** A live stream was refused before it opened: ask /auth/session whether access is gone. */
  | { kind: "stream-refused" };

type Listener = (signal: AccessSignal) => void;

const listeners = new Set<Listener>();
let epoch = 0;

/** The current sign-in generation: a 401 to a call made before the latest sign-in is stale news. */
export function accessEpoch(): number {
  return epoch;
}

/** A new session began (signed in): older calls' 401s no longer say anything about it. */
export function newAccessEpoch(): void {
  epoch += 1;
}

export function signalAccess(signal: AccessSignal): void {
  for (const listener of listeners) listener(signal);
}

/** Listen to access signals; returns the function that stops listening. */
export function onAccessSignal(listener: Listener): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

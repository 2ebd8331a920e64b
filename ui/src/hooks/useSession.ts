import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { accessEpoch, newAccessEpoch, onAccessSignal } from "@/api/access";
import type { Session } from "@/api/client";
import { readSession, signIn as postSession, signOut as deleteSession } from "@/api/session";

/** The API's scopes (libs/core/apikeys.py); `admin` covers keys and the policy, and implies no other. */
export type Scope = "jobs:read" | "jobs:write" | "approvals:write" | "admin";

export type SessionStatus =
  /** Asking GET /auth/session. */
  | "checking"
  /** A session (open access, or signed in with a key). */
  | "active"
  /** Keys are on and this browser has no valid session: ask for a key. */
  | "signed-out"
  /** The API could not be asked: show the app, whose calls say what is wrong. */
  | "unknown";

export interface SessionState {
  status: SessionStatus;
  session: Session | null;
  /** Why the browser is signed out, or why the API could not be asked. */
  notice: string | null;
}

export interface SessionControl {
  state: SessionState;
  /** Trade a key for a session cookie; throws an Error whose message says why it was refused. */
  signIn: (key: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const OPEN: SessionState = {
  status: "active",
  session: { auth: "open", tenant: null, key_name: null, scopes: [] },
  notice: null,
};

/** Without a provider (unit tests of one component) everything is allowed, as in open mode. */
export const SessionContext = createContext<SessionControl>({
  state: OPEN,
  signIn: async () => undefined,
  signOut: async () => undefined,
});

export function useSession(): SessionControl {
  return useContext(SessionContext);
}

/** Why the session may not do what `scope` allows (a sentence for a title or a note), or null if it may. */
export function missingScope(state: SessionState, scope: Scope): string | null {
  const session = state.session;
  if (state.status !== "active" || !session || session.auth === "open") return null;
  if (session.scopes.includes(scope)) return null;
  return `This key (${session.key_name ?? "unnamed"}) lacks the scope ${scope}.`;
}

/** Null when this session may act with `scope`, else the reason to show on the disabled control. */
export function useMissingScope(scope: Scope): string | null {
  return missingScope(useSession().state, scope);
}

// Refused streams ask about the session at most this often (a busy API refuses many at once).
const REFUSAL_CHECK_MS = 5_000;
const SIGNED_OUT_AGAIN = "Your session ended (signed out elsewhere, expired or the key was revoked). Sign in again.";

/**
 * The session state for the provider: asks GET /auth/session once at start, again when a live stream is
 * refused, and drops to signed out on any 401 of a call made since the latest sign-in.
 */
export function useSessionState(): SessionControl {
  const [state, setState] = useState<SessionState>({ status: "checking", session: null, notice: null });
  const checking = useRef(false);
  const lastRefusalCheck = useRef(-Infinity);

  const check = useCallback(async () => {
    if (checking.current) return;
    checking.current = true;
    const epoch = accessEpoch();
    try {
      const answer = await readSession();
      if (epoch !== accessEpoch()) return; // signed in meanwhile: that answer is newer
      setState(
        "message" in answer
          ? { status: "signed-out", session: null, notice: answer.message }
          : { status: "active", session: answer.session, notice: null },
      );
    } catch (thrown) {
      const notice = thrown instanceof Error ? thrown.message : String(thrown);
      // Keep a known session through a blip; only the first answer decides to show the app anyway.
      setState((previous) => (previous.status === "checking" ? { status: "unknown", session: null, notice } : previous));
    } finally {
      checking.current = false;
    }
  }, []);

  useEffect(() => {
    void check();
    return onAccessSignal((signal) => {
      // A refused stream may be an API under load (503): ask about the session once in a while, not per refusal.
      if (signal.kind === "stream-refused") {
        if (Date.now() - lastRefusalCheck.current >= REFUSAL_CHECK_MS) {
          lastRefusalCheck.current = Date.now();
          void check();
        }
      }
      else if (signal.epoch === accessEpoch()) {
        setState((previous) =>
          previous.status === "signed-out" ? previous : { status: "signed-out", session: null, notice: SIGNED_OUT_AGAIN },
        );
      }
    });
  }, [check]);

  const signIn = useCallback(async (key: string) => {
    const session = await postSession(key);
    newAccessEpoch();
    setState({ status: "active", session, notice: null });
  }, []);

  const signOut = useCallback(async () => {
    await deleteSession();
    newAccessEpoch();
    setState({ status: "signed-out", session: null, notice: "Signed out." });
  }, []);

  return useMemo(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
}

"use client";

import type { ReactNode } from "react";
import { SessionContext, useSession, useSessionState } from "@/hooks/useSession";
import { SignIn } from "./SignIn";

/** Knows who this browser acts as (GET /auth/session at start) and tells the components below. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const control = useSessionState();
  return <SessionContext.Provider value={control}>{children}</SessionContext.Provider>;
}

/**
 * The page once access is known: the sign-in form while signed out (the page's own components, and
 * their live streams, are unmounted then), the page itself otherwise. Signing in mounts the page
 * again, so everything is read afresh.
 */
export function SessionGate({ children }: { children: ReactNode }) {
  const { state } = useSession();
  if (state.status === "checking") {
    return (
      <p className="muted" role="status">
        Checking access…
      </p>
    );
  }
  if (state.status === "signed-out") return <SignIn notice={state.notice} />;
  return <>{children}</>;
}

"use client";

import { useAction } from "@/hooks/useAction";
import { useSession } from "@/hooks/useSession";

/** The header's account corner: open access, or the tenant and key signed in with a "Sign out" button. */
export function SessionBar() {
  const { state, signOut } = useSession();
  const { run, busy, error } = useAction();
  const session = state.session;
  if (state.status !== "active" || !session) return null;
  if (session.auth === "open") {
    return (
      <span className="session muted" title="No API keys are configured: anyone who reaches this port has access.">
        open access (local)
      </span>
    );
  }
  return (
    <span className="session" data-testid="session">
      <span>
        <span className="muted">tenant</span> <strong>{session.tenant}</strong> <span className="muted">· key</span>{" "}
        <strong>{session.key_name}</strong>
      </span>
      <button type="button" disabled={busy} onClick={() => run(signOut)}>
        {busy ? "Signing out…" : "Sign out"}
      </button>
      {error ? (
        <span className="session-error" role="alert">
          {error}
        </span>
      ) : null}
    </span>
  );
}

"use client";

import { useId, useState, type FormEvent } from "react";
import { useAction } from "@/hooks/useAction";
import { useSession } from "@/hooks/useSession";
import { ErrorNote } from "./Common";

/**
 * The "not authorised" state: a form that trades an API key for the HttpOnly session cookie. The key
 * lives in this form's state only until it is sent (never in localStorage or any JS-readable cookie).
 */
export function SignIn({ notice }: { notice: string | null }) {
  const id = useId();
  const { signIn } = useSession();
  const [key, setKey] = useState("");
  const { run, busy, error } = useAction();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const typed = key.trim();
    setKey("");
    if (typed) await run(() => signIn(typed));
  }

  return (
    <section className="card signin" aria-label="Sign in">
      <h1>Not authorised</h1>
      {notice ? <p data-testid="signin-notice">{notice}</p> : null}
      <p className="muted">
        This Planwright API needs an API key. Paste yours (an administrator creates one with{" "}
        <code>planwright keys create</code>); the browser keeps a session cookie, not the key.
      </p>
      {/* No `name` on the field: even a form posted without JavaScript cannot put the key in a URL. */}
      <form onSubmit={onSubmit} method="post">
        <label htmlFor={`${id}-key`}>API key</label>
        <input
          id={`${id}-key`}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="pw_…"
          required
        />
        <ErrorNote message={error} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
    </section>
  );
}

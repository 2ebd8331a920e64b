/** The session routes: who this browser acts as, signing in with an API key, signing out. */
import { apiUrl, type Schemas, type Session } from "./client";
import { ApiError, describeApiError, describeThrown } from "./errors";

/** What the API says about this browser's access: a session, or none (sign in). */
export type SessionAnswer = { session: Session } | { session: null; message: string };

/** An API that predates keys (no /auth/session route) is open, as every API was. */
const OPEN: Session = { auth: "open", tenant: null, key_name: null, scopes: [] };

async function call(method: "GET" | "POST" | "DELETE", body?: unknown): Promise<Response> {
  try {
    // Plain fetch, not the typed client: a 401 here is an answer, not news of lost access.
    return await globalThis.fetch(apiUrl("/auth/session"), {
      method,
      headers: method === "GET" ? undefined : { "Content-Type": "application/json" },
      body: method === "GET" ? undefined : JSON.stringify(body ?? {}),
    });
  } catch (thrown) {
    throw new ApiError(describeThrown(thrown), 0, null);
  }
}

async function failure(response: Response): Promise<ApiError> {
  const body: unknown = await response.json().catch(() => undefined);
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  return new ApiError(describeApiError(body, response), response.status, typeof code === "string" ? code : null);
}

/** GET /auth/session: the session, or none with the API's reason (401); throws ApiError otherwise. */
export async function readSession(): Promise<SessionAnswer> {
  const response = await call("GET");
  if (response.ok) return { session: (await response.json()) as Session };
  if (response.status === 404) return { session: OPEN };
  if (response.status === 401) {
    // The page already says "Not authorised": the API's own words are the detail.
    const body = (await response.json().catch(() => undefined)) as { error?: { message?: unknown } } | undefined;
    const message = body?.error?.message;
    return { session: null, message: typeof message === "string" ? message : "Sign in with an API key." };
  }
  throw await failure(response);
}

/** POST /auth/session: trade an API key for the HttpOnly session cookie; throws ApiError (401: bad key). */
export async function signIn(key: string): Promise<Session> {
  const response = await call("POST", { key } satisfies Schemas["SessionIn"]);
  if (!response.ok) throw await failure(response);
  return (await response.json()) as Session;
}

/** DELETE /auth/session: clear the cookie. Already signed out (401) counts as done. */
export async function signOut(): Promise<void> {
  const response = await call("DELETE");
  if (!response.ok && response.status !== 401) throw await failure(response);
}

import { vi } from "vitest";

/** A native-EventSource stand-in: `refuse()` is how a browser reports a 401 (closed before it opened). */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  url: string;
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: MessageEvent<string>) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }
  addEventListener() {}
  close() {
    this.readyState = 2;
  }
  /** The server answered with an error status: the browser fails the connection for good. */
  refuse() {
    this.readyState = 2;
    this.onerror?.();
  }
  /** The connection dropped (network): the browser would reconnect by itself. */
  drop() {
    this.readyState = 0;
    this.onerror?.();
  }
}

export const GOOD_KEY = "pw_test_5ecret";

export interface FakeAuthApi {
  /** Whether the browser holds a valid session cookie. */
  signedIn: boolean;
  scopes: string[];
  /** Every request, as "METHOD /path". */
  calls: string[];
  /** The bodies and content types of the state-changing calls. */
  writes: { call: string; contentType: string | null; body: string }[];
  /** Answers for other routes, by "METHOD /path"; the default is 200 `[]`. */
  routes: Map<string, () => Response>;
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

const unauthorized = (message: string) => json({ error: { code: "unauthorized", message, details: null } }, 401);

/**
 * A fake API with keys on, stubbed as `fetch`: /auth/session signs in with GOOD_KEY only, and every
 * other route answers 401 unless signed in. The session is the cookie the real API would set.
 */
export function fakeAuthApi(initial: Partial<Pick<FakeAuthApi, "signedIn" | "scopes">> = {}): FakeAuthApi {
  const api: FakeAuthApi = {
    signedIn: initial.signedIn ?? false,
    scopes: initial.scopes ?? ["jobs:read", "jobs:write", "approvals:write"],
    calls: [],
    writes: [],
    routes: new Map(),
  };
  const session = () => ({ auth: "keys", tenant: "acme", key_name: "ci", scopes: api.scopes });
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(String(input), init);
      const url = new URL(request.url);
      const call = `${request.method} ${url.pathname}`;
      api.calls.push(call);
      if (request.method !== "GET") {
        api.writes.push({ call, contentType: request.headers.get("Content-Type"), body: await request.text() });
      }
      if (url.pathname === "/auth/session") {
        if (request.method === "DELETE") {
          api.signedIn = false;
          return new Response(null, { status: 204 });
        }
        if (request.method === "POST") {
          const body = JSON.parse(api.writes[api.writes.length - 1]?.body ?? "{}") as { key?: string };
          if (body.key !== GOOD_KEY) return unauthorized("invalid or revoked API key");
          api.signedIn = true;
        }
        return api.signedIn ? json(session()) : unauthorized("sign in with an API key");
      }
      if (!api.signedIn) return unauthorized("sign in with an API key");
      return api.routes.get(call)?.() ?? json([]);
    }),
  );
  return api;
}

/** One job still running, as GET /jobs lists it: while the list shows one, it holds the changes stream. */
export const RUNNING_JOB = {
  id: "11111111-1111-4111-8111-111111111111",
  goal: "Write a haiku about queues",
  context_json: {},
  priority: 1,
  status: "running",
  error: null,
  created_at: "2026-12-06T12:00:00Z",
  updated_at: "2026-12-06T12:00:01Z",
  finished_at: null,
  tasks: { total: 2, succeeded: 1, failed: 0, running: 1 },
  usage: { calls: 1, input_tokens: 10, output_tokens: 20, cost_usd: 0, unpriced_calls: 0, mock_calls: 1 },
  trace_id: null,
  trace_url: null,
};

import createClient from "openapi-fetch";
import { accessEpoch, signalAccess } from "./access";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Job = Schemas["JobOut"];
export type JobDetail = Schemas["JobDetail"];
export type JobStatus = Schemas["JobStatus"];
export type Task = Schemas["TaskOut"];
export type TaskStatus = Schemas["TaskStatus"];
export type Artifact = Schemas["ArtifactOut"];
export type Tool = Schemas["ToolOut"];
export type Usage = Schemas["UsageOut"];
export type JobCreate = Schemas["JobCreate"];
/** Who this browser acts as: `auth` is "open" (no keys needed) or "keys". */
export type Session = Schemas["SessionOut"];
/** A policy decision; `decided_by` names the key that approved or rejected (null: the gate, or open). */
export type Decision = Schemas["DecisionOut"];
export type PlanVersion = Schemas["PlanVersionOut"];

/**
 * The API's base URL: same origin by default (the FastAPI app serves this UI at `/`).
 * NEXT_PUBLIC_API_URL overrides it at build/dev time, e.g. `/api` (the dev proxy) or
 * `http://127.0.0.1:8000` (needs CORS on the API).
 */
export const API_BASE: string = (process.env.NEXT_PUBLIC_API_URL ?? "").replace(/\/+$/, "");

/** An absolute-or-same-origin URL for an API path such as an artifact's `content_url`. */
export function apiUrl(path: string): string {
  return `${API_BASE}${path}`;
}

const WRITES: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Every call to the API goes through here. A state-changing call always carries a JSON body (`{}` when
 * the route takes none): the API refuses other content types there, which is what stops cross-site
 * form posts. A 401 tells the session provider that access is gone. Credentials travel in the
 * HttpOnly session cookie, which the browser adds to same-origin requests.
 */
export async function apiFetch(request: Request): Promise<Response> {
  const epoch = accessEpoch();
  let sent = request;
  if (WRITES.has(request.method) && request.body === null) {
    const headers = new Headers(request.headers);
    headers.set("Content-Type", "application/json");
    sent = new Request(request, { body: "{}", headers });
  }
  const response = await globalThis.fetch(sent);
  if (response.status === 401) signalAccess({ kind: "unauthorized", epoch });
  return response;
}

export const api = createClient<paths>({
  baseUrl: API_BASE,
  // Resolve relative bases against the page at call time (static export, same origin).
  fetch: apiFetch,
});

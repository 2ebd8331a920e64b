import createClient from "openapi-fetch";
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

export const api = createClient<paths>({
  baseUrl: API_BASE,
  // Resolve relative bases against the page at call time (static export, same origin).
  fetch: (request: Request) => globalThis.fetch(request),
});

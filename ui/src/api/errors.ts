/** Turning API failures into sentences a person can act on. */

interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

function isApiErrorBody(value: unknown): value is ApiErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const inner = (value as { error: unknown }).error;
  return (
    typeof inner === "object" &&
    inner !== null &&
    typeof (inner as { message?: unknown }).message === "string"
  );
}

const FRIENDLY_CODES: Record<string, string> = {
  not_found: "Not found",
  validation_error: "Please check the form",
  invalid_transition: "Not possible right now",
  plan_invalid: "The planner refused this goal",
  answer_invalid: "The answer does not fit",
  policy_refused: "The policy refuses these arguments",
  policy_unavailable: "The policy is unavailable",
  invalid_last_event_id: "The live view could not resume",
  method_not_allowed: "Not allowed",
  unauthorized: "Not authorised",
  forbidden: "Not allowed",
  unavailable: "Temporarily unavailable",
  too_many_streams: "The live view is busy",
  internal_error: "The API failed",
};

/** An API call that failed: `status` is 0 when the API was not reached. The message is for people. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;

  constructor(message: string, status: number, code: string | null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Seconds to wait from a `Retry-After` header (seconds or an HTTP date); null when absent or unreadable. */
export function retryAfterSeconds(response: Response, now: number = Date.now()): number | null {
  const value = response.headers.get("Retry-After")?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

function rateLimited(response: Response): string {
  const seconds = retryAfterSeconds(response);
  if (seconds === null) return "Too many requests: retry in a moment.";
  return `Too many requests: retry after ${seconds} second${seconds === 1 ? "" : "s"}.`;
}

/** A readable message for an openapi-fetch `error` (the API's error body) and its response. */
export function describeApiError(error: unknown, response?: Response): string {
  if (response?.status === 429) return rateLimited(response);
  if (isApiErrorBody(error)) {
    const prefix = FRIENDLY_CODES[error.error.code];
    const text = prefix ? `${prefix}: ${error.error.message}` : error.error.message;
    // A 503 says when to try again (the database or Redis is down, or the process is full).
    const seconds = response?.status === 503 ? retryAfterSeconds(response) : null;
    return seconds === null ? text : `${text} (retry after ${seconds} second${seconds === 1 ? "" : "s"})`;
  }
  if (response) {
    if (response.status === 401) return "Not authorised: sign in with an API key.";
    if (response.status >= 500) return `The API failed (HTTP ${response.status}). Try again in a moment.`;
    return `The API answered HTTP ${response.status} ${response.statusText}`.trim();
  }
  return describeThrown(error);
}

/** A readable message for something thrown by fetch (network down, CORS, bad JSON...). */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof TypeError) {
    return "Cannot reach the Planwright API. Is it running? (" + thrown.message + ")";
  }
  if (thrown instanceof Error) return thrown.message;
  return "Something went wrong talking to the API.";
}

/** Run one openapi-fetch call and return its data or throw an ApiError with a readable message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (thrown) {
    throw new ApiError(describeThrown(thrown), 0, null);
  }
  if (result.error !== undefined || !result.response.ok) {
    const code = isApiErrorBody(result.error) ? result.error.error.code : null;
    throw new ApiError(describeApiError(result.error, result.response), result.response.status, code);
  }
  return result.data as T;
}

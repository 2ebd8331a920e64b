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
  policy_unavailable: "The policy is unavailable",
  invalid_last_event_id: "The live view could not resume",
  method_not_allowed: "Not allowed",
};

/** A readable message for an openapi-fetch `error` (the API's error body) and its response. */
export function describeApiError(error: unknown, response?: Response): string {
  if (isApiErrorBody(error)) {
    const prefix = FRIENDLY_CODES[error.error.code];
    return prefix ? `${prefix}: ${error.error.message}` : error.error.message;
  }
  if (response) {
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

/** Run one openapi-fetch call and return its data or throw an Error with a readable message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await call;
  } catch (thrown) {
    throw new Error(describeThrown(thrown));
  }
  if (result.error !== undefined || !result.response.ok) {
    throw new Error(describeApiError(result.error, result.response));
  }
  return result.data as T;
}

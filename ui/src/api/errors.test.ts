import { describe, expect, it } from "vitest";
import { ApiError, describeApiError, retryAfterSeconds, unwrap } from "./errors";

const withRetryAfter = (value: string) => new Response(null, { status: 429, headers: { "Retry-After": value } });

describe("retryAfterSeconds", () => {
  it("reads seconds or an HTTP date, and nothing else", () => {
    expect(retryAfterSeconds(withRetryAfter("12"))).toBe(12);
    const now = Date.parse("2026-11-24T22:00:00Z");
    expect(retryAfterSeconds(withRetryAfter("Tue, 24 Nov 2026 22:00:30 GMT"), now)).toBe(30);
    expect(retryAfterSeconds(withRetryAfter("soon"))).toBeNull();
    expect(retryAfterSeconds(new Response(null, { status: 429 }))).toBeNull();
  });
});

describe("describeApiError", () => {
  it("words 401, 403 and 429", () => {
    const body = (code: string, message: string) => ({ error: { code, message, details: null } });
    expect(describeApiError(body("unauthorized", "missing API key"), new Response(null, { status: 401 }))).toBe(
      "Not authorised: missing API key",
    );
    expect(describeApiError(undefined, new Response(null, { status: 401 }))).toBe(
      "Not authorised: sign in with an API key.",
    );
    expect(
      describeApiError(body("forbidden", "this key lacks the scope jobs:write"), new Response(null, { status: 403 })),
    ).toBe("Not allowed: this key lacks the scope jobs:write");
    expect(describeApiError(body("rate_limited", "slow down"), withRetryAfter("1"))).toBe(
      "Too many requests: retry after 1 second.",
    );
    expect(describeApiError(undefined, new Response(null, { status: 429 }))).toBe(
      "Too many requests: retry in a moment.",
    );
  });

  it("words a 503 with when to try again", () => {
    const down = { error: { code: "unavailable", message: "the database is unavailable; try again shortly" } };
    const response = new Response(null, { status: 503, headers: { "Retry-After": "5" } });
    expect(describeApiError(down, response)).toBe(
      "Temporarily unavailable: the database is unavailable; try again shortly (retry after 5 seconds)",
    );
    expect(describeApiError(down, new Response(null, { status: 503 }))).toBe(
      "Temporarily unavailable: the database is unavailable; try again shortly",
    );
  });

  it("unwrap throws an ApiError with the status and code", async () => {
    const response = new Response(null, { status: 403 });
    const error = { error: { code: "forbidden", message: "this key lacks the scope admin" } };
    const thrown = await unwrap(Promise.resolve({ error, response })).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(ApiError);
    expect(thrown).toMatchObject({ status: 403, code: "forbidden", message: "Not allowed: this key lacks the scope admin" });
  });
});

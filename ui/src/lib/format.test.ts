import { describe, expect, it } from "vitest";
import { formatSpend, formatUsage } from "./format";

describe("formatUsage", () => {
  it("says when a job made no model calls", () => {
    expect(formatUsage(undefined)).toBe("no model calls");
    expect(formatUsage({ calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, unpriced_calls: 0, mock_calls: 0 })).toBe(
      "no model calls",
    );
  });

  it("gives calls, tokens and the estimated cost", () => {
    const usage = { calls: 2, input_tokens: 2500, output_tokens: 500, cost_usd: 0.000675, unpriced_calls: 0, mock_calls: 0 };
    expect(formatUsage(usage)).toBe("2 model calls · 2,500 in / 500 out tokens · ~$0.00068");
    expect(formatUsage({ ...usage, cost_usd: 1.234 })).toBe("2 model calls · 2,500 in / 500 out tokens · ~$1.23");
  });

  it("does not invent a cost for models without a price", () => {
    const usage = { calls: 1, input_tokens: 10, output_tokens: 5, cost_usd: 0, unpriced_calls: 1, mock_calls: 0 };
    expect(formatUsage(usage)).toBe("1 model call · 10 in / 5 out tokens · 1 without a price");
  });

  it("says which calls the mock model answered", () => {
    const usage = { calls: 2, input_tokens: 10, output_tokens: 5, cost_usd: 0, unpriced_calls: 0, mock_calls: 2 };
    expect(formatUsage(usage)).toBe("2 model calls · 10 in / 5 out tokens · all by the mock model");
    expect(formatUsage({ ...usage, calls: 3, mock_calls: 1, unpriced_calls: 2 })).toBe(
      "3 model calls · 10 in / 5 out tokens · 2 without a price · 1 by the mock model",
    );
  });
});

describe("formatSpend", () => {
  it("writes the spend, and the share of the budget when there is one", () => {
    expect(formatSpend(0.0123, undefined)).toBe("$0.0123");
    expect(formatSpend(0.065, 0.06)).toBe("$0.0650 of $0.0600 budget (108%)");
    expect(formatSpend(0, 0.5)).toBe("$0.0000 of $0.5000 budget (0%)");
  });
});

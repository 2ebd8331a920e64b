import type { Usage } from "@/api/client";

/** Short local date-time, or an em dash. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Clock time with milliseconds, for the event timeline. */
export function formatClock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** Duration between two times, e.g. "340 ms", "12.3 s", "4 min 2 s". */
export function formatDuration(start: string | null | undefined, end: string | null | undefined): string {
  if (!start || !end) return "—";
  const ms = new Date(end).getTime() - new Date(start).getTime();
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Model use in words: "2 model calls · 2,500 in / 500 out tokens · ~$0.0007". */
export function formatUsage(usage: Usage | undefined): string {
  if (!usage || usage.calls === 0) return "no model calls";
  const n = (value: number) => value.toLocaleString("en-US");
  const parts = [
    `${n(usage.calls)} model call${usage.calls === 1 ? "" : "s"}`,
    `${n(usage.input_tokens)} in / ${n(usage.output_tokens)} out tokens`,
  ];
  // The mock model's calls cost nothing: a "~$0.0" for them would only be noise.
  const priced = usage.calls - (usage.unpriced_calls ?? 0) - (usage.mock_calls ?? 0);
  if (priced > 0) parts.push(`~$${usage.cost_usd < 0.01 ? usage.cost_usd.toPrecision(2) : usage.cost_usd.toFixed(2)}`);
  if (usage.unpriced_calls) parts.push(`${n(usage.unpriced_calls)} without a price`);
  if (usage.mock_calls) parts.push(`${usage.mock_calls === usage.calls ? "all" : n(usage.mock_calls)} by the mock model`);
  return parts.join(" · ");
}

/** A job's spend in US dollars, and of what budget (the policy's job.max_cost_usd) when one applies. */
export function formatSpend(cost: number, budget: number | null | undefined): string {
  const usd = (value: number) => `$${value.toFixed(4)}`;
  if (budget == null) return usd(cost);
  const share = budget > 0 ? Math.round((cost / budget) * 100) : 0;
  return `${usd(cost)} of ${usd(budget)} budget (${share}%)`;
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

/** Pretty JSON for display as text. */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

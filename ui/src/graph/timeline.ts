import type { JobEvent } from "@/hooks/useJobEvents";
import { eventTaskKey } from "./status";

/**
 * What a task attempt was doing over a stretch of time: waiting for a worker (`queued`, from
 * task.queued to task.running), waiting for a person (`approval`), running its tool (`running`, from
 * task.running to task.succeeded/reviewing/failed/...), being checked by the critic (`review`, from
 * task.reviewing to critic.verdict), or running again after a rework verdict (`rework`).
 */
export type PhaseKind = "queued" | "approval" | "running" | "review" | "rework";

export const PHASE_KINDS: readonly PhaseKind[] = ["queued", "approval", "running", "review", "rework"];

export const PHASE_LABELS: Record<PhaseKind, string> = {
  queued: "Queued",
  approval: "Awaiting approval",
  running: "Running",
  review: "Critic review",
  rework: "Rework",
};

export interface Phase {
  kind: PhaseKind;
  attempt: number;
  /** Milliseconds since the timeline's start. */
  start: number;
  end: number;
  /** Still going: it ends at "now". */
  open: boolean;
  /** Part of an attempt made because the critic asked for a rework. */
  rework: boolean;
}

export interface TimelineRow {
  key: string;
  title: string;
  tool: string;
  phases: Phase[];
}

export interface Timeline {
  /** Epoch milliseconds of the first event: the axis's 0. */
  origin: number;
  /** Milliseconds from the origin to the axis's end (at least 1). */
  span: number;
  rows: TimelineRow[];
}

type EventLike = Pick<JobEvent, "id" | "type" | "data" | "created_at">;

interface TaskLike {
  key: string;
  title: string;
  tool: string;
}

/** Events that end whatever phase the task was in. */
const ENDS = new Set([
  "task.pending",
  "task.ready",
  "task.retrying",
  "task.succeeded",
  "task.failed",
  "task.blocked",
  "task.skipped",
  "task.cancelled",
]);

interface Track {
  row: TimelineRow;
  open: { kind: PhaseKind; attempt: number; start: number } | null;
  attempt: number;
  /** A rework verdict was given: the next attempt is a rework. */
  reworkNext: boolean;
  reworks: Set<number>;
}

/**
 * The job's task attempts over time, from its events (any order, duplicates ignored): one row per
 * task in plan order (tasks only the events name come after), each with its phases. While the job
 * runs (`finished` false) a phase still going ends at `now`; once it has finished, at the last event.
 */
export function buildTimeline(
  events: readonly EventLike[],
  tasks: readonly TaskLike[],
  { now, finished }: { now: number; finished: boolean },
): Timeline {
  const seen = new Set<number>();
  const sorted = [...events]
    .sort((a, b) => a.id - b.id)
    .filter((e) => !seen.has(e.id) && seen.add(e.id) && Number.isFinite(Date.parse(e.created_at)));
  const first = sorted[0];
  const origin = first ? Date.parse(first.created_at) : now;
  const lastAt = sorted.length > 0 ? Date.parse(sorted[sorted.length - 1]?.created_at ?? "") : now;
  const end = (finished ? lastAt : Math.max(now, lastAt)) - origin;

  const tracks = new Map<string, Track>();
  const track = (key: string): Track => {
    let found = tracks.get(key);
    if (!found) {
      const task = tasks.find((t) => t.key === key);
      const row = { key, title: task?.title ?? key, tool: task?.tool ?? "", phases: [] };
      found = { row, open: null, attempt: 1, reworkNext: false, reworks: new Set() };
      tracks.set(key, found);
    }
    return found;
  };
  for (const task of tasks) track(task.key);

  const close = (t: Track, at: number) => {
    if (!t.open) return;
    const rework = t.reworks.has(t.open.attempt);
    t.row.phases.push({ ...t.open, end: Math.max(at, t.open.start), open: false, rework });
    t.open = null;
  };
  const openPhase = (t: Track, kind: PhaseKind, at: number) => {
    close(t, at);
    t.open = { kind, attempt: t.attempt, start: at };
  };

  for (const event of sorted) {
    const key = eventTaskKey(event);
    if (!key) continue;
    const t = track(key);
    const at = Date.parse(event.created_at) - origin;
    const attempt = event.data["attempt"];
    if (typeof attempt === "number") t.attempt = attempt;
    switch (event.type) {
      case "task.queued":
        if (t.reworkNext) {
          t.reworks.add(t.attempt);
          t.reworkNext = false;
        }
        openPhase(t, "queued", at);
        break;
      case "task.awaiting_approval":
      case "task.awaiting_input": // a person's answer: waiting for a person, like an approval
        openPhase(t, "approval", at);
        break;
      case "task.running":
        openPhase(t, t.reworks.has(t.attempt) ? "rework" : "running", at);
        break;
      case "task.progress":
        // A progress report means the tool runs, even if its task.running was not received.
        if (!t.open || t.open.kind === "queued" || t.open.kind === "approval") {
          openPhase(t, t.reworks.has(t.attempt) ? "rework" : "running", at);
        }
        break;
      case "task.reviewing":
        openPhase(t, "review", at);
        break;
      case "critic.verdict":
        close(t, at);
        if (event.data["verdict"] === "rework") t.reworkNext = true;
        break;
      default:
        if (ENDS.has(event.type)) close(t, at);
    }
  }
  for (const t of tracks.values()) {
    if (!t.open) continue;
    const rework = t.reworks.has(t.open.attempt);
    t.row.phases.push({ ...t.open, end: Math.max(end, t.open.start), open: !finished, rework });
    t.open = null;
  }
  return { origin, span: Math.max(end, 1), rows: [...tracks.values()].map((t) => t.row) };
}

/** A round step (1, 2 or 5 times a power of ten, in ms) giving about `target` ticks over `span`. */
export function tickStep(span: number, target = 6): number {
  const raw = Math.max(span, 1) / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** Tick positions (ms from the origin) from 0 up to `span`. */
export function axisTicks(span: number, target = 6): number[] {
  const step = tickStep(span, target);
  const ticks: number[] = [];
  for (let i = 0; i * step <= span + 1e-9; i += 1) ticks.push(Math.round(i * step * 1000) / 1000);
  return ticks;
}

/** A time offset for the axis or a bar's tooltip: "0", "250 ms", "1.5 s", "2 min 30 s". */
export function formatOffset(ms: number): string {
  if (ms === 0) return "0";
  if (ms < 1000) return `${Math.round(ms * 10) / 10} ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** A phase as a share of the axis, in percent: where it starts and how wide it is. */
export function phaseBox(phase: Pick<Phase, "start" | "end">, span: number): { left: number; width: number } {
  const left = Math.min(100, Math.max(0, (phase.start / span) * 100));
  const right = Math.min(100, Math.max(left, (phase.end / span) * 100));
  return { left, width: right - left };
}

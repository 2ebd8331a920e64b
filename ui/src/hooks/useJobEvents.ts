import { useCallback, useEffect, useRef, useState } from "react";
import { apiUrl, type Schemas } from "@/api/client";
import {
  defaultBackoff,
  eventSourceTransport,
  follow,
  type Follower,
  type StreamMessage,
  type StreamTransport,
} from "@/api/sse";

export type { StreamHandlers, StreamMessage, StreamTransport } from "@/api/sse";

/** Every event type the API sends, from the generated OpenAPI schema (libs/core/events.py). */
export type EventType = Schemas["Event"]["type"];

/** One event of a job's log, as sent in an SSE `data` line. */
export interface JobEvent {
  id: number;
  job_id: string;
  type: string;
  task_id: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

export type StreamStatus = "connecting" | "live" | "reconnecting" | "ended";

export const TERMINAL_EVENTS: ReadonlySet<string> = new Set<EventType>(["job.succeeded", "job.failed", "job.cancelled"]);

/**
 * One entry per event type: `tsc` fails when this misses a type of the API's `Event` schema or names
 * one it does not have, so the listeners below cannot drift from the API (run `make ui-client`).
 */
const EVENT_TYPE_SET: Record<EventType, true> = {
  "job.created": true,
  "job.planning": true,
  "job.running": true,
  "job.succeeded": true,
  "job.failed": true,
  "job.cancelled": true,
  "plan.progress": true,
  "plan.created": true,
  "plan.replanned": true,
  "task.pending": true,
  "task.ready": true,
  "task.awaiting_approval": true,
  "task.awaiting_input": true,
  "task.queued": true,
  "task.running": true,
  "task.progress": true,
  "task.reviewing": true,
  "task.retrying": true,
  "task.succeeded": true,
  "task.failed": true,
  "task.blocked": true,
  "task.skipped": true,
  "task.cancelled": true,
  "task.superseded": true,
  "critic.verdict": true,
  "policy.decision": true,
};

/** The event types the API sends; EventSource needs a listener per name. */
export const EVENT_TYPES = Object.keys(EVENT_TYPE_SET) as readonly EventType[];

/** The browser transport for a job's events: a native EventSource. */
export const jobEventsTransport: StreamTransport = eventSourceTransport(EVENT_TYPES);

export interface UseJobEventsOptions {
  transport?: StreamTransport;
  /** Delay before the n-th reconnect in a row (n from 1). */
  backoffMs?: (attempt: number) => number;
}

/** Parses one SSE message into a JobEvent, or null if it is not one. */
export function parseEvent(message: StreamMessage): JobEvent | null {
  try {
    const raw = JSON.parse(message.data) as Partial<JobEvent>;
    const id = typeof raw.id === "number" ? raw.id : Number(message.id);
    if (!Number.isFinite(id)) return null;
    return {
      id,
      job_id: String(raw.job_id ?? ""),
      type: String(raw.type ?? message.event),
      task_id: raw.task_id ?? null,
      data: raw.data && typeof raw.data === "object" ? raw.data : {},
      created_at: String(raw.created_at ?? ""),
    };
  } catch {
    return null;
  }
}

/** The URL of a job's event stream, resuming after `after` (an event id) when given. */
export function eventsUrl(jobId: string, after: number | null): string {
  const path = `/jobs/${encodeURIComponent(jobId)}/events`;
  return apiUrl(after === null ? path : `${path}?after=${after}`);
}

/**
 * A job's events, live, in id order without duplicates. The server closes the stream once the job is
 * over and every event was sent; a terminal event in the middle of the log (a retry reopened the job)
 * is not the end. So the stream has ended when it closed and the last event received is terminal;
 * any other close reconnects with `?after=<last id>` (with backoff). `resume()` follows the job again
 * after it ended, e.g. once a retry reopened it.
 */
export function useJobEvents(jobId: string | null, options: UseJobEventsOptions = {}) {
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const transportRef = useRef(options.transport ?? jobEventsTransport);
  const backoffRef = useRef(options.backoffMs ?? defaultBackoff);
  const followerRef = useRef<Follower | null>(null);

  useEffect(() => {
    setEvents([]);
    if (!jobId) return;
    let last: JobEvent | null = null;
    const follower = follow({
      transport: transportRef.current,
      backoffMs: (attempt) => backoffRef.current(attempt),
      url: () => eventsUrl(jobId, last?.id ?? null),
      onOpen: () => setStatus("live"),
      onMessage: (message) => {
        const event = parseEvent(message);
        if (!event || (last !== null && event.id <= last.id)) return;
        last = event;
        setEvents((previous) => [...previous, event]);
      },
      isOver: () => last !== null && TERMINAL_EVENTS.has(last.type),
      onState: setStatus,
    });
    followerRef.current = follower;
    return () => {
      followerRef.current = null;
      follower.stop();
    };
  }, [jobId]);

  const resume = useCallback(() => followerRef.current?.resume(), []);
  return { events, status, resume };
}

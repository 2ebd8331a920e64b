import { useEffect, useRef, useState } from "react";
import { apiUrl } from "@/api/client";

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

/** One SSE message as a transport hands it over. */
export interface StreamMessage {
  id: string;
  event: string;
  data: string;
}

export interface StreamHandlers {
  onOpen: () => void;
  onMessage: (message: StreamMessage) => void;
  /** The connection failed or dropped. The transport must not reconnect by itself. */
  onError: () => void;
}

/** Opens one connection to `url`; the hook closes it and opens a new one to resume. */
export type StreamTransport = (url: string, handlers: StreamHandlers) => { close: () => void };

export const TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  "job.succeeded",
  "job.failed",
  "job.cancelled",
]);

/** The event types the API sends (libs/core/events.py); EventSource needs a listener per name. */
export const EVENT_TYPES: readonly string[] = [
  "job.created", "job.planning", "plan.created", "job.running", "job.succeeded", "job.failed",
  "job.cancelled", "task.ready", "task.awaiting_approval", "task.queued", "task.running",
  "task.progress", "task.reviewing", "task.retrying", "task.succeeded", "task.failed",
  "task.blocked", "task.skipped", "task.cancelled", "critic.verdict", "policy.decision",
];

/** The browser transport: a native EventSource, closed on its first error (the hook resumes). */
export const eventSourceTransport: StreamTransport = (url, handlers) => {
  const source = new EventSource(url);
  const deliver = (e: MessageEvent<string>) =>
    handlers.onMessage({ id: e.lastEventId, event: e.type, data: e.data });
  source.onopen = () => handlers.onOpen();
  source.onmessage = deliver;
  for (const type of EVENT_TYPES) source.addEventListener(type, deliver);
  source.onerror = () => {
    source.close();
    handlers.onError();
  };
  return { close: () => source.close() };
};

export interface UseJobEventsOptions {
  transport?: StreamTransport;
  /** Delay before the n-th reconnect in a row (n from 1). */
  backoffMs?: (attempt: number) => number;
}

const defaultBackoff = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 10_000);

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
 * A job's events, live. Events are kept in id order without duplicates. When the connection
 * drops the hook reconnects with `?after=<last id>` (the API's Last-Event-ID), so no event is
 * lost or shown twice; it ends after job.succeeded, job.failed or job.cancelled.
 */
export function useJobEvents(jobId: string | null, options: UseJobEventsOptions = {}) {
  const [events, setEvents] = useState<JobEvent[]>([]);
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const transportRef = useRef(options.transport ?? eventSourceTransport);
  const backoffRef = useRef(options.backoffMs ?? defaultBackoff);

  useEffect(() => {
    setEvents([]);
    if (!jobId) return;
    let lastId: number | null = null;
    let failures = 0;
    let ended = false;
    let connection: { close: () => void } | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;

    const connect = () => {
      timer = null;
      let open = true;
      connection = transportRef.current(eventsUrl(jobId, lastId), {
        onOpen: () => {
          if (!open) return;
          failures = 0;
          setStatus("live");
        },
        onMessage: (message) => {
          if (!open) return;
          const event = parseEvent(message);
          if (!event || (lastId !== null && event.id <= lastId)) return;
          lastId = event.id;
          setStatus("live");
          setEvents((previous) => [...previous, event]);
          if (TERMINAL_EVENTS.has(event.type)) {
            ended = true;
            open = false;
            connection?.close();
            setStatus("ended");
          }
        },
        onError: () => {
          if (!open) return;
          open = false;
          connection?.close();
          if (ended) return;
          failures += 1;
          setStatus("reconnecting");
          timer = setTimeout(connect, backoffRef.current(failures));
        },
      });
    };

    setStatus("connecting");
    connect();
    return () => {
      ended = true;
      if (timer) clearTimeout(timer);
      connection?.close();
    };
  }, [jobId]);

  return { events, status };
}

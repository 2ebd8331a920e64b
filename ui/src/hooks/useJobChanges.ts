import { useEffect, useRef, useState } from "react";
import { apiUrl, type Schemas } from "@/api/client";
import { defaultBackoff, eventSourceTransport, follow, type StreamMessage, type StreamTransport } from "@/api/sse";

/** What changed: `all` (a (re)connect or too many to name) or the jobs that got new events. */
export interface JobsChange {
  all: boolean;
  jobIds: readonly string[];
}

export type ChangesStatus = "connecting" | "live" | "reconnecting";

/** The browser transport for GET /jobs/changes. */
export const jobChangesTransport: StreamTransport = eventSourceTransport(["ready", "jobs.changed"]);

export interface UseJobChangesOptions {
  /** Listen only while true (default true); the connection closes when it turns false. */
  enabled?: boolean;
  transport?: StreamTransport;
  /** Delay before the n-th reconnect in a row (n from 1). */
  backoffMs?: (attempt: number) => number;
}

/** Reads one message of the changes stream; null for anything else. */
export function parseChange(message: StreamMessage): JobsChange | null {
  if (message.event === "ready") return { all: true, jobIds: [] };
  if (message.event !== "jobs.changed") return null;
  try {
    const body = JSON.parse(message.data) as Partial<Schemas["JobsChanged"]>;
    const jobIds = Array.isArray(body.job_ids) ? body.job_ids.filter((id) => typeof id === "string") : [];
    return { all: body.all === true, jobIds };
  } catch {
    return { all: true, jobIds: [] };
  }
}

/**
 * Which jobs change, live (GET /jobs/changes): calls `onChange` with `all` once the server listens
 * (`ready`, on every (re)connect: read everything again then) and on each `jobs.changed`. The stream
 * has no ids to resume from; a drop reconnects with backoff and the next `ready` covers the gap.
 */
export function useJobChanges(onChange: (change: JobsChange) => void, options: UseJobChangesOptions = {}) {
  const [status, setStatus] = useState<ChangesStatus>("connecting");
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const transportRef = useRef(options.transport ?? jobChangesTransport);
  const backoffRef = useRef(options.backoffMs ?? defaultBackoff);
  const enabled = options.enabled ?? true;

  useEffect(() => {
    if (!enabled) return;
    const follower = follow({
      transport: transportRef.current,
      backoffMs: (attempt) => backoffRef.current(attempt),
      url: () => apiUrl("/jobs/changes"),
      onOpen: () => undefined,
      onMessage: (message) => {
        const change = parseChange(message);
        if (!change) return;
        if (message.event === "ready") setStatus("live");
        onChangeRef.current(change);
      },
      isOver: () => false,
      onState: (state) => setStatus(state === "reconnecting" ? "reconnecting" : "connecting"),
    });
    return () => follower.stop();
  }, [enabled]);

  return { status };
}

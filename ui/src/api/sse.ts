/** Server-Sent Events plumbing shared by the live hooks: a replaceable transport and a reconnect loop. */
import { signalAccess } from "./access";

/** One SSE message as a transport hands it over. */
export interface StreamMessage {
  id: string;
  event: string;
  data: string;
}

export interface StreamHandlers {
  onOpen: () => void;
  onMessage: (message: StreamMessage) => void;
  /** The connection failed, dropped or was closed by the server. The transport must not reconnect by itself. */
  onError: () => void;
}

/** Opens one connection to `url`; the caller closes it and opens a new one to resume. */
export type StreamTransport = (url: string, handlers: StreamHandlers) => { close: () => void };

/** EventSource.CLOSED: after an error, the server refused the stream (e.g. 401) rather than dropped it. */
const CLOSED = 2;

/**
 * The browser transport: a native EventSource listening to the named events (EventSource needs a
 * listener per event name), closed on its first error so that the caller decides how to resume. It
 * sends the session cookie (same origin) but cannot read a refusal's status: a stream refused before
 * it opened signals `stream-refused`, and the session provider asks /auth/session whether access is gone.
 */
export function eventSourceTransport(eventNames: readonly string[]): StreamTransport {
  return (url, handlers) => {
    const source = new EventSource(url);
    let opened = false;
    const deliver = (e: MessageEvent<string>) => handlers.onMessage({ id: e.lastEventId, event: e.type, data: e.data });
    source.onopen = () => {
      opened = true;
      handlers.onOpen();
    };
    source.onmessage = deliver;
    for (const name of eventNames) source.addEventListener(name, deliver);
    source.onerror = () => {
      const refused = !opened && source.readyState === CLOSED;
      source.close();
      handlers.onError();
      if (refused) signalAccess({ kind: "stream-refused" });
    };
    return { close: () => source.close() };
  };
}

/** Delay before the n-th reconnect in a row (n from 1): 0.5 s doubling up to 10 s. */
/**
 * Milliseconds before reconnect `attempt`: doubling from 0.5 s to 10 s, each a random point in its
 * upper half, so that pages that lost their streams together (an API restart or overload, answered 503)
 * do not all come back at the same moment.
 */
export const defaultBackoff = (attempt: number, random: () => number = Math.random) => {
  const ceiling = Math.min(500 * 2 ** (attempt - 1), 10_000);
  return ceiling / 2 + random() * (ceiling / 2);
};

export type FollowState = "connecting" | "reconnecting" | "ended";

export interface FollowOptions {
  transport: StreamTransport;
  backoffMs: (attempt: number) => number;
  /** The URL of each new connection (e.g. resuming after the last event id). */
  url: () => string;
  onOpen: () => void;
  onMessage: (message: StreamMessage) => void;
  /** The connection ended: true to stay closed until `resume()`, false to reconnect after a backoff. */
  isOver: () => boolean;
  /** A connection is being (re)opened, a reconnect is scheduled, or the stream is over. */
  onState: (state: FollowState) => void;
}

export interface Follower {
  /**
   * Follow the stream again: connect now when it is over or waiting to reconnect; when a connection
   * is open, connect once more after it ends even if it ends "over" (its end may predate the change).
   */
  resume: () => void;
  /** Close for good (unmount). */
  stop: () => void;
}

/** Keeps one SSE connection open: reconnects with backoff after a drop, until `isOver()` or `stop()`. */
export function follow(options: FollowOptions): Follower {
  let failures = 0;
  let connection: { close: () => void } | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  let again = false;

  const connect = () => {
    timer = null;
    let open = true;
    const handle = options.transport(options.url(), {
      onOpen: () => {
        if (!open) return;
        failures = 0;
        options.onOpen();
      },
      onMessage: (message) => {
        if (open) options.onMessage(message);
      },
      onError: () => {
        if (!open) return;
        open = false;
        connection?.close();
        connection = null;
        if (stopped) return;
        if (again) {
          again = false;
          options.onState("connecting");
          connect();
        } else if (options.isOver()) {
          options.onState("ended");
        } else {
          failures += 1;
          options.onState("reconnecting");
          timer = setTimeout(connect, options.backoffMs(failures));
        }
      },
    });
    if (open) connection = handle;
    else handle.close();
  };

  options.onState("connecting");
  connect();
  return {
    resume: () => {
      if (stopped) return;
      if (connection) {
        again = true;
        return;
      }
      if (timer) clearTimeout(timer);
      failures = 0;
      options.onState("connecting");
      connect();
    },
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      connection?.close();
      connection = null;
    },
  };
}

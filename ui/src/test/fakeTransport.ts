import { act } from "@testing-library/react";
import type { StreamHandlers, StreamTransport } from "@/api/sse";

/**
 * A fake SSE transport: records each connection; tests push messages and drops (a drop is also how a
 * transport reports that the server closed the stream). `payload` builds each message's data.
 */
export function fakeTransport(payload: (id: number, type: string, data: Record<string, unknown>) => unknown) {
  const connections: { url: string; handlers: StreamHandlers; closed: boolean }[] = [];
  const transport: StreamTransport = (url, handlers) => {
    const connection = { url, handlers, closed: false };
    connections.push(connection);
    return { close: () => void (connection.closed = true) };
  };
  const current = () => {
    const last = connections[connections.length - 1];
    if (!last) throw new Error("no connection");
    return last;
  };
  return {
    transport,
    connections,
    current,
    /** A message with an id (job events). */
    send: (id: number, type: string, data: Record<string, unknown> = {}) =>
      act(() =>
        current().handlers.onMessage({ id: String(id), event: type, data: JSON.stringify(payload(id, type, data)) }),
      ),
    /** A message without an id (the jobs changes stream). */
    emit: (event: string, data: unknown) =>
      act(() => current().handlers.onMessage({ id: "", event, data: JSON.stringify(data) })),
    open: () => act(() => current().handlers.onOpen()),
    drop: () => act(() => current().handlers.onError()),
  };
}

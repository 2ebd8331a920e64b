"""A lean SSE client over a raw asyncio socket, for thousands of streams in one process (httpx costs
too much per stream for that), and the HTTP endpoint that holds the W4 jobs until the bench lets go."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.util import BenchError, free_port

TERMINAL = (b"job.succeeded", b"job.failed", b"job.cancelled")
# on_event(event id, event type, data line, arrival time); returns nothing.
OnEvent = Callable[[int, bytes, bytes, float], None]


async def _body(reader: asyncio.StreamReader, chunked: bool, quiet_s: float | None) -> AsyncIterator[bytes]:
    """The response body as it arrives, chunked framing removed; ends at its end or after quiet_s silence."""
    while True:
        try:
            if chunked:
                size_line = await asyncio.wait_for(reader.readline(), quiet_s)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                data = (await reader.readexactly(size + 2))[:-2]
            else:
                data = await asyncio.wait_for(reader.read(65536), quiet_s)
                if not data:
                    return
        except TimeoutError:
            return
        yield data


async def follow_raw(
    host: str,
    port: int,
    job_id: str,
    on_event: OnEvent,
    quiet_s: float | None = None,
    on_open: Callable[[float], None] | None = None,
) -> bytes | None:
    """Follow GET /jobs/{id}/events until the terminal event (its type is returned), or until
    ``quiet_s`` without data (returns None). ``on_open`` gets the time the response headers came."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        request = (
            f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
        )
        writer.write(request.encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if on_open is not None:
            on_open(time.time())
        if not head.startswith(b"HTTP/1.1 200"):
            raise BenchError(f"SSE for job {job_id}: {head.splitlines()[0]!r}")
        chunked = b"transfer-encoding: chunked" in head.lower()
        buffer = b""
        async for data in _body(reader, chunked, quiet_s):
            now = time.time()
            buffer += data
            *blocks, buffer = buffer.split(b"\n\n")
            for block in blocks:
                ended = _dispatch(block, now, on_event)
                if ended is not None:
                    return ended
        return None
    finally:
        writer.close()


def _dispatch(block: bytes, now: float, on_event: OnEvent) -> bytes | None:
    event_id, kind, data = -1, b"", b""
    for line in block.split(b"\n"):
        if line.startswith(b"id: "):
            event_id = int(line[4:])
        elif line.startswith(b"event: "):
            kind = line[7:]
        elif line.startswith(b"data: "):
            data = line[6:]
    if event_id < 0:  # a keep-alive comment
        return None
    on_event(event_id, kind, data, now)
    return kind if kind in TERMINAL else None


# -- the held fetch ------------------------------------------------------------------------------------

PAGE_TEXT = (
    b"Queues hold work until a worker is free. Workers take one task at a time. "
    b"Each finished task may unblock the tasks that depend on it. A job ends when its last task ends. "
    b"Events tell every watcher what happened, in order."
)


class HoldServer:
    """Answers GET /hold/<n> only once ``release()`` is called (or after ``max_hold_s``)."""

    def __init__(self, max_hold_s: float = 12.0) -> None:
        self.port = free_port()
        self.released = threading.Event()
        self.timed_out = threading.Event()  # a request waited max_hold_s: the hold ended on its own
        released, timed_out, hold = self.released, self.timed_out, max_hold_s

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not released.wait(hold):
                    timed_out.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(PAGE_TEXT)))
                self.end_headers()
                self.wfile.write(PAGE_TEXT)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/hold/{n}"

    def __enter__(self) -> HoldServer:
        self.thread.start()
        return self

    def release(self) -> None:
        self.released.set()

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

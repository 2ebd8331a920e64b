"""A lean SSE client over a raw asyncio socket, for thousands of streams in one process (httpx costs
too much per stream for that), and the HTTP endpoint that holds the W4 jobs until the bench lets go."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import cast

from bench.pages import PageServer
from bench.util import BenchError

TERMINAL = (b"job.succeeded", b"job.failed", b"job.cancelled")
# on_event(event id, event type, data line, arrival time); returns nothing.
OnEvent = Callable[[int, bytes, bytes, float], None]


class _Follow(asyncio.Protocol):
    """One SSE stream as an asyncio Protocol: the event loop hands it the bytes as they arrive, with
    no task switch and no coroutine step per read (thousands of these share one client process, on
    the same two cores as the servers measured). The arrival time is taken when the bytes come in."""

    def __init__(
        self,
        request: bytes,
        job_id: str,
        on_event: OnEvent,
        on_open: Callable[[float], None] | None,
        done: asyncio.Future[bytes | None],
    ) -> None:
        self._request = request
        self._job_id = job_id
        self._on_event = on_event
        self._on_open = on_open
        self.done = done
        self.transport: asyncio.Transport | None = None
        self._raw = b""  # received, not yet parsed: the head, then chunk framing
        self._head_seen = False
        self._chunked = False
        self._need = -1  # bytes of chunk data (+ CRLF) still expected; -1: a size line is next
        self._text = b""  # the body, framing removed, not yet split into events
        self.last_data = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.last_data = time.monotonic()
        self._raw += data
        if not self._head_seen:
            end = self._raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self._raw = self._raw[: end + 4], self._raw[end + 4 :]
            self._head_seen = True
            if self._on_open is not None:
                self._on_open(now)
            if not head.startswith(b"HTTP/1.1 200"):
                self._finish(exc=BenchError(f"SSE for job {self._job_id}: {head.splitlines()[0]!r}"))
                return
            self._chunked = b"transfer-encoding: chunked" in head.lower()
        if self._chunked:
            ended = self._unchunk()
        else:
            self._text += self._raw
            self._raw = b""
            ended = False
        *blocks, self._text = self._text.split(b"\n\n")
        for block in blocks:
            kind = _dispatch(block, now, self._on_event)
            if kind is not None:
                self._finish(kind)
                return
        if ended:
            self._finish(None)

    def _unchunk(self) -> bool:
        """Move whole chunks from ``_raw`` to ``_text``; True at the last (empty) chunk."""
        while True:
            if self._need < 0:
                line_end = self._raw.find(b"\r\n")
                if line_end < 0:
                    return False
                size = int(self._raw[:line_end].split(b";")[0].strip() or b"0", 16)
                self._raw = self._raw[line_end + 2 :]
                if size == 0:
                    return True
                self._need = size + 2
            if len(self._raw) < self._need:
                return False
            self._text += self._raw[: self._need - 2]
            self._raw = self._raw[self._need :]
            self._need = -1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if exc is not None:
                self.done.set_exception(exc)
            elif not self._head_seen:
                self.done.set_exception(asyncio.IncompleteReadError(b"", None))
            else:
                self.done.set_result(None)

    def _finish(self, kind: bytes | None = None, exc: BaseException | None = None) -> None:
        if not self.done.done():
            if exc is not None:
                self.done.set_exception(exc)
            else:
                self.done.set_result(kind)
        if self.transport is not None:
            self.transport.close()


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
    loop = asyncio.get_running_loop()
    request = (
        f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n"
    )
    done: asyncio.Future[bytes | None] = loop.create_future()
    transport, follow = await loop.create_connection(
        lambda: _Follow(request.encode(), job_id, on_event, on_open, done), host, port
    )
    try:
        if quiet_s is None:
            return await done
        while True:  # quiet: no data for quiet_s
            wait = follow.last_data + quiet_s - time.monotonic()
            if wait <= 0:
                return None
            finished, _ = await asyncio.wait([done], timeout=wait)
            if finished:
                return done.result()
    finally:
        transport.close()


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

    def __init__(self, max_hold_s: float = 12.0, port: int | None = None) -> None:
        self.released = threading.Event()
        self.timed_out = threading.Event()  # a request waited max_hold_s: the hold ended on its own

        def hold() -> None:
            if not self.released.wait(max_hold_s):
                self.timed_out.set()

        self._pages = PageServer(PAGE_TEXT, port=port, before=hold)
        self.port = self._pages.port

    def url(self, n: int) -> str:
        return self._pages.url(f"hold/{n}")

    def __enter__(self) -> HoldServer:
        self._pages.__enter__()
        return self

    def release(self) -> None:
        self.released.set()

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self._pages.__exit__(*exc)

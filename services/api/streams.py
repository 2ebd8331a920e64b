"""How many event streams one API process serves, and how they open: cheap and bounded, so that a
herd of reconnecting clients, or the backlog of a process that stalled, cannot take it down.

- At most ``max_streams`` streams (both kinds) are open or opening at once: ``SSE_MAX_STREAMS``, by
  default half the process's open-file limit (each stream holds a socket), at most 10,000. One more
  is answered at once 503 ``too_many_streams`` with ``Retry-After``, without reading anything, and
  its connection is closed.
- At most ``OPENING`` streams do the work of opening (the feed subscription, the status and replay
  read) at once; the others wait their turn. A client that has left by then is dropped before that
  work: after a stall the listen queue holds many clients who gave up, and reading for them is what
  once kept a process from serving the ones still there.
- Every stream starts with a ``retry:`` field, 1 to 5 s spread over the clients: the time a browser's
  EventSource waits before reconnecting after a drop, so clients who lost their streams together
  (a restart, a stall) do not all come back at once.

A stream's slot is given back when its response ends, however it ends.

Under uvicorn's HTTP/1.1 server, where a stream's chunks are written straight to its connection, one
``StreamWatch`` task per process looks at every such stream once a second: it ends the stream of a
client that left, and writes the keepalive of one that has been quiet. That is one task for all of
them, not a task and a timer for each (thousands of objects the garbage collector walks).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from planwright.core import metrics
from planwright.core.settings import Settings
from planwright.services.api.errors import send_error

log = logging.getLogger(__name__)

OPENING = 8  # as many as the ReadPool's connections: more at once would only wait there
MAX_STREAMS_CEILING = 10_000  # the default's ceiling: past it, run more API processes
RECONNECT_MS = (1000, 5000)  # the spread of the retry: field, and of Retry-After
LOG_EVERY_S = 10.0  # at most one log line about refusals per this
WATCH_S = 1.0  # how often the watch looks at each stream written straight to its connection


def machine_max_streams() -> int:
    """The default of SSE_MAX_STREAMS: half the process's open-file limit (the other half is for the
    database and Redis connections, other requests, and connections accepted but not answered yet,
    up to the listen backlog after a stall), at most ``MAX_STREAMS_CEILING``."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_STREAMS_CEILING
    return max(1, min(MAX_STREAMS_CEILING, soft // 2))


class Slot:
    """One stream's place in its gate; ``release`` gives it back (once, however often it is called)."""

    __slots__ = ("_gate",)

    def __init__(self, gate: StreamGate) -> None:
        self._gate: StreamGate | None = gate

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.open -= 1


class Watched(Protocol):
    def look(self, now: float) -> None:
        """Called by the watch about once every ``WATCH_S`` (``now``: the event loop's time)."""


class StreamWatch:
    """Calls ``look`` of every watched stream about once every ``WATCH_S``, from one task, which
    runs while any stream is watched."""

    def __init__(self) -> None:
        self._streams: set[Watched] = set()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._streams)

    def add(self, stream: Watched) -> None:
        self._streams.add(stream)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="event-stream-watch")

    def discard(self, stream: Watched) -> None:
        self._streams.discard(stream)
        if not self._streams and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_S)
            now = loop.time()
            for stream in list(self._streams):
                try:
                    stream.look(now)
                except Exception:  # one stream's trouble must not stop the others' keepalives
                    log.exception("event streams: looking at a stream failed")


class StreamGate:
    """The event streams of one process: see the module's docstring."""

    def __init__(self, max_streams: int, opening: int = OPENING) -> None:
        self.max_streams = max_streams
        self.open = 0  # streams open or opening
        self.opening = asyncio.Semaphore(opening)  # held while a stream does the work of opening
        self.watch = StreamWatch()  # the streams written straight to their connections
        self._refused = 0  # since the last log line about it
        self._logged_at = -math.inf

    @classmethod
    def of(cls, settings: Settings) -> StreamGate:
        limit = settings.sse_max_streams
        gate = cls(limit or machine_max_streams())
        how = "SSE_MAX_STREAMS" if limit else "SSE_MAX_STREAMS unset: from the open-file limit"
        log.info("event streams: at most %d open at once (%s)", gate.max_streams, how)
        return gate

    def take(self) -> Slot | None:
        """A slot for a new stream, or None when ``max_streams`` are open (answer ``refuse``)."""
        if self.open >= self.max_streams:
            return None
        self.open += 1
        return Slot(self)

    def refuse(self, stream: str, scope: Scope) -> Response:
        """The 503 for a stream that found the process full (counted, and logged now and then)."""
        metrics.SSE_REFUSED.labels(stream, "full").inc()
        self._refused += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY_S:
            log.warning(
                "event streams: %d refused (503) since the last such line: SSE_MAX_STREAMS=%d are open",
                self._refused,
                self.max_streams,
            )
            self._refused, self._logged_at = 0, now
        return _Refused(self.max_streams, math.ceil(_reconnect_ms(scope) / 1000))


async def client_left(request: Request, server_send: object) -> bool:
    """Whether the client has gone. A connection closed while it sat in the listen queue (a stalled
    process) has its request and its end read one after the other, the end only once the request
    has started: the event loop runs once first, so that the end is read. Under uvicorn the answer
    is its own state (``server_send`` is its send): the transport closes as the end is read, the
    request is marked disconnected a step later; no message is consumed."""
    await asyncio.sleep(0)
    cycle = getattr(server_send, "__self__", None)
    gone = getattr(cycle, "disconnected", None)
    is_closing = getattr(getattr(cycle, "transport", None), "is_closing", None)
    if isinstance(gone, bool) and callable(is_closing):
        return gone or bool(is_closing())
    # Elsewhere, Starlette's check; its first call may only take the request's (empty) body.
    return await request.is_disconnected() or await request.is_disconnected()


def reconnect_hint(scope: Scope) -> bytes:
    """The ``retry:`` field that starts a stream."""
    return b"retry: %d\n\n" % _reconnect_ms(scope)


def _reconnect_ms(scope: Scope) -> int:
    """A delay in ``RECONNECT_MS``, spread by the client's port: ephemeral, so new for each
    connection, and the same for a given one (no random state, reproducible in tests)."""
    client = scope.get("client")
    port = client[1] if client else 0
    low, high = RECONNECT_MS
    # Multiples of the golden ratio's fraction: consecutive ports land far apart, evenly over the range.
    return low + int((high - low) * ((port * 0.6180339887) % 1.0))


class _Refused(Response):
    """503 ``too_many_streams``, in the API's error shape. It is not an event stream, so a browser's
    EventSource fails rather than retrying by itself; ``Retry-After`` says when to come back. The
    connection is closed after it: a refused client holds nothing here."""

    def __init__(self, limit: int, retry_after_s: int) -> None:
        super().__init__(status_code=503)
        self._limit = limit
        self._retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_error(
            send,
            503,
            "too_many_streams",
            f"this API process has its SSE_MAX_STREAMS ({self._limit}) event streams open; "
            f"retry after {self._retry_after_s} s",
            {"limit": self._limit, "retry_after_s": self._retry_after_s},
            headers={"Retry-After": str(self._retry_after_s), "Connection": "close"},
        )


class Gone(Response):
    """The answer for a client that left before its stream opened: nothing. It returns once the
    server has seen the connection close (at most a step away), so that the server takes the missing
    answer for what it is rather than for an error of the app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

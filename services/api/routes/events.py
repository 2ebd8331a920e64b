"""``GET /jobs/{id}/events``: the job's event log as Server-Sent Events, replay then live tail."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, TypeAdapter
from starlette.types import Receive, Scope, Send

from planwright.core import metrics
from planwright.core.errors import Forbidden, PlanwrightError
from planwright.core.events import JOB_TERMINAL_EVENTS, Event
from planwright.core.feed import Subscription
from planwright.core.states import JOB_TERMINAL, JobStatus
from planwright.services.api import queries, replay, schemas
from planwright.services.api.auth import principal_of, tenant_of
from planwright.services.api.deps import RuntimeDep, runtime_of
from planwright.services.api.direct_routes import Handler, parameter, uuid_in_path
from planwright.services.api.server_cycle import httptools_cycle
from planwright.services.api.streams import Gone, Slot, StreamGate, StreamWatch, client_left, reconnect_hint
from planwright.services.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter(tags=["events"])
KEEPALIVE_S = 15.0
MAX_EVENT_ID = 2**63 - 1  # event ids are BIGINTs
COALESCE_S = 0.25


class JobsChanged(BaseModel):
    """The ``data`` of a ``jobs.changed`` event."""

    job_ids: list[UUID] = Field(description="Jobs with new events since the previous jobs.changed.")
    all: bool = Field(False, description="Any job may have changed: read the whole list again.")


class InvalidLastEventId(PlanwrightError):
    code = "invalid_last_event_id"
    status_code = 422


# The stream's optional parameters, documented here and read by hand: FastAPI's per-request handling
# of Header and Query parameters cost a connecting client ~0.3 ms, the largest part of connecting.
_AFTER_DOC = "Resume after this event id (as Last-Event-ID)."
_STREAM_PARAMETERS = [
    {
        "name": "after",
        "in": "query",
        "required": False,
        "schema": {
            "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
            "description": _AFTER_DOC,
            "title": "After",
        },
        "description": _AFTER_DOC,
    },
    {
        "name": "last-event-id",
        "in": "header",
        "required": False,
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Last-Event-Id"},
    },
]
_AFTER = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_EVENT_ID)])


def _resume_point(request: Request) -> int:
    """The event id to resume after: ``Last-Event-ID`` if sent, else ``after``, else 0."""
    last_event_id = request.headers.get("last-event-id")
    if last_event_id:
        text = last_event_id.strip()
        digits = text.lstrip("0") or "0"
        # ASCII digits only (``isdigit`` takes "²"), and few enough for an event id (a BIGINT).
        if not (text.isascii() and text.isdigit() and len(digits) < 20 and int(digits) <= MAX_EVENT_ID):
            raise InvalidLastEventId(
                f"Last-Event-ID must be an event id (a whole number up to {MAX_EVENT_ID}), "
                f"got {last_event_id[:40]!r}"
            )
        return int(digits)
    after = request.query_params.get("after")
    if after is None:
        return 0
    return parameter(_AFTER, after, "query", "after")


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "model": Event,
            "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/Event"}}},
            "description": "Server-Sent Events: `id` the event id, `event` its type, `data` the Event.",
        },
        404: {"model": schemas.ErrorOut},
        503: {"model": schemas.ErrorOut, "description": "`too_many_streams`: retry after `Retry-After` s."},
    },
    openapi_extra={"parameters": _STREAM_PARAMETERS},
)
async def job_events(job_id: UUID, request: Request) -> Response:
    """Every event of the job after ``Last-Event-ID`` (or ``after``), then live ones; ends after the
    job's terminal event (a retry can reopen a failed job: connect again to follow it). Each event's
    ``id`` is the one to resume from."""
    last = _resume_point(request)
    gate: StreamGate = request.app.state.streams
    if (slot := gate.take()) is None:
        return gate.refuse("job_events", request.scope)
    return await _opened(request, slot, job_id, last)


async def _opened(
    request: Request, slot: Slot, job_id: UUID, last: int, headers: dict[str, str] | None = None
) -> Response:
    """The stream of the job's events after ``last``, in ``slot`` (given back if it cannot open)."""
    runtime = runtime_of(request)
    gate: StreamGate = request.app.state.streams
    server_send = request.scope.get(SERVER_SEND)
    try:
        async with gate.opening:  # a few streams open at a time; the others wait here
            if await client_left(request, server_send):  # nothing is read for a client who left
                metrics.SSE_REFUSED.labels("job_events", "client_gone").inc()
                slot.release()
                return Gone()
            # 404 before the stream starts
            sub, status, page = await _open(runtime, job_id, last, tenant_of(request))
    except BaseException:
        slot.release()
        raise
    return _respond(request, runtime, slot, sub, (job_id, last, status, page), 200, headers)


# Where a stream starts: the job's id, the last event id already sent, its status, its replay's first page.
_Start = tuple[UUID, int, JobStatus, list[replay.Encoded]]


def _respond(
    request: Request,
    runtime: Runtime,
    slot: Slot,
    sub: Subscription,
    start: _Start,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> _EventStream:
    """The response streaming the job's events from ``start`` (its id, the last event id sent, its
    status, the first page of its replay) on: ``sub`` and ``slot`` are given back when it ends."""
    direct = _Direct.of(request.scope.get(SERVER_SEND), sub)
    return _EventStream(
        _stream(runtime, sub, *start, direct, reconnect_hint(request.scope)),
        sub=sub,
        on_close=functools.partial(_close, runtime, sub, slot),  # not a closure: fewer objects per stream
        direct=direct,
        watch=request.app.state.streams.watch,
        status_code=status_code,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )


def wants_events(request: Request) -> bool:
    """Whether the request's ``Accept`` lists ``text/event-stream`` (not at quality 0)."""
    accept = request.headers.get("accept", "").lower()
    if "text/event-stream" not in accept:
        return False
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media == "text/event-stream":
            return not any(_quality(param) == 0 for param in params)
    return False


def _quality(param: str) -> float | None:
    """The value of a ``q=`` media-type parameter; None for any other parameter or a bad value."""
    name, _, value = param.partition("=")
    if name.strip() != "q":
        return None
    try:
        return float(value)
    except ValueError:
        return None


class SubmitStream:
    """``POST /jobs`` answered with the job's event stream (``Accept: text/event-stream``): the
    submit and the stream in one request. The stream takes its slot before the job is made (a full
    process makes no job its client cannot follow) and needs ``jobs:read`` besides ``jobs:write``."""

    def __init__(self, request: Request, slot: Slot) -> None:
        self._request = request
        self._slot = slot

    @classmethod
    def of(cls, request: Request) -> SubmitStream | Response:
        """The request's stream, or the 503 to answer when the process has no room for another."""
        if "jobs:read" not in principal_of(request).scopes:
            raise Forbidden(
                "following the job's events (Accept: text/event-stream) needs the scope jobs:read"
            )
        gate: StreamGate = request.app.state.streams
        if (slot := gate.take()) is None:
            return gate.refuse("create_job", request.scope)
        return cls(request, slot)

    def release(self) -> None:
        """Give the slot back, for a request that failed before its answer (once, however often)."""
        self._slot.release()

    async def existing(self, job_id: UUID) -> Response:
        """A repeated submit (Idempotency-Key): the first job's events, from ``Last-Event-ID`` on."""
        last = _resume_point(self._request)
        return await _opened(self._request, self._slot, job_id, last, {"Location": self._location(job_id)})

    async def new(self, job_id: UUID, store: Callable[[], Awaitable[object]]) -> Response:
        """The 201 streaming a new job's events, subscribed before ``store`` commits it: its first
        events are handed to the stream as they commit, and nothing is read back."""
        runtime = runtime_of(self._request)
        sub = await runtime.feed.subscribe(job_id, new=True)
        try:
            await store()
        except BaseException:
            runtime.feed.unsubscribe(sub)
            raise
        start: _Start = (job_id, 0, JobStatus.pending, [])
        return _respond(
            self._request, runtime, self._slot, sub, start, 201, {"Location": self._location(job_id)}
        )

    def _location(self, job_id: UUID) -> str:
        return f"{self._request.scope.get('root_path', '')}/jobs/{job_id}"


def _close(runtime: Runtime, sub: Subscription, slot: Slot) -> None:
    """When a stream's response ends: its subscription and its slot are given back."""
    runtime.feed.unsubscribe(sub)
    slot.release()


async def _open(
    runtime: Runtime, job_id: UUID, last: int, tenant: str | None
) -> tuple[Subscription, JobStatus, list[replay.Encoded]]:
    """Subscribe to the job's live events, then read its status and the first page of the replay over
    one connection. Subscribing first means nothing committed in between is missed (the stream drops
    ids <= the last one sent). Raises NotFound (unsubscribed) if there is no such job, or it is not
    ``tenant``'s."""
    sub = await runtime.feed.subscribe(job_id)
    try:
        status, page = await runtime.reads.run(
            functools.partial(replay.status_and_page, job_id=job_id, after=last, tenant=tenant)
        )
    except BaseException:
        runtime.feed.unsubscribe(sub)
        raise
    return sub, status, page


SERVER_SEND = "planwright.server_send"  # the server's own send, kept in the scope by the app


class Last(bytes):
    """A stream's last chunk: the server sends it with the response's end, in one write."""


class _EventStream(StreamingResponse):
    """An event stream, cheap per chunk and per client (thousands of them share one process).

    The head goes through every middleware (telemetry, CORS); the chunks go straight to the server's
    ``send`` when the app kept it in the scope, not through the layers that only look at the head.
    Where the stream is written straight to its connection (``direct``), the process's one
    ``StreamWatch`` notices when its client leaves; elsewhere a task of the stream's own waits for
    that. Either closes the subscription, which ends the stream; the subscription is released even
    if the stream never started."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        sub: Subscription,
        on_close: Callable[[], None],
        direct: _Direct | None = None,
        watch: StreamWatch | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(content, **kwargs)
        self._sub = sub
        self._on_close = on_close
        self._direct = direct
        self._watch = watch if direct is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = scope.get(SERVER_SEND, send)
        watcher = None
        if self._watch is not None and self._direct is not None:
            self._watch.add(self._direct)
        else:
            watcher = asyncio.create_task(self._until_gone(receive))
        try:
            await send(
                {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            )
            ended = False
            async for chunk in self.body_iterator:  # (a Last is the body's last chunk: it ends then)
                ended = type(chunk) is Last
                await chunks({"type": "http.response.body", "body": chunk, "more_body": not ended})
            if not ended:
                await chunks({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if watcher is not None:
                watcher.cancel()
            if self._watch is not None and self._direct is not None:
                self._watch.discard(self._direct)
            self._on_close()

    async def _until_gone(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._sub.close()


class _Direct:
    """Writes a stream's chunks from whichever task has them (the one that committed the events, or
    the live feed's reader), straight to the connection, without waking the stream's own task: where
    the server is uvicorn's HTTP/1.1 (httptools) and the response is chunked. Delivering one commit
    to thousands of clients then costs a write each, not a task switch, a generator step and the ASGI
    send each.

    ``writable`` is false once the client left, the response ended, or the transport is above its
    high-water mark (uvicorn's flow control paused writing): then the stream's task writes, awaiting
    the drain like any response, so a slow client holds only itself up.

    The process's ``StreamWatch`` calls ``look`` once a second: it ends the stream of a client that
    left, and writes the keepalives, so the stream needs no task and no timer of its own for them."""

    __slots__ = ("_cycle", "_keepalive_at", "_sub")

    def __init__(self, cycle: Any, sub: Subscription) -> None:
        self._cycle = cycle
        self._sub = sub
        self._keepalive_at = asyncio.get_running_loop().time() + KEEPALIVE_S

    @classmethod
    def of(cls, send: Send | None, sub: Subscription) -> _Direct | None:
        needed = ("transport", "flow", "chunked_encoding", "disconnected", "response_started")
        cycle = httptools_cycle(send, needed)
        return None if cycle is None else cls(cycle, sub)

    def look(self, now: float) -> None:
        """The watch's call (``streams.StreamWatch``): if the client left, the subscription is closed,
        which ends the stream; else, every ``KEEPALIVE_S``, a keepalive comment, written when the
        stream's task waits on an empty queue (nothing else is being written) and the connection can
        take it (or at a later look)."""
        if self._cycle.disconnected:
            self._sub.close()
        elif now >= self._keepalive_at and self._sub.direct is not None and self.writable():
            self.write(b": keepalive\n\n")
            self._keepalive_at = now + KEEPALIVE_S

    def writable(self) -> bool:
        """The chunked response is under way, the client still there and not behind."""
        c = self._cycle
        under_way = c.chunked_encoding is True and c.response_started and not c.response_complete
        return bool(under_way and not c.disconnected and not c.flow.write_paused)

    def write(self, body: bytes) -> None:
        """One chunk of the body (chunked transfer coding, as uvicorn frames it)."""
        self._cycle.transport.write(framed(body))

    def write_chunk(self, chunk: bytes) -> None:
        """One chunk of the body, already ``framed``."""
        self._cycle.transport.write(chunk)


def framed(body: bytes) -> bytes:
    """``body`` as one chunk of a chunked body (``b""`` for none)."""
    return b"%x\r\n%b\r\n" % (len(body), body) if body else b""


def _chunk(events: Sequence[Event], last: int) -> tuple[bytes, int, bool]:
    """The framed chunk of ``events`` after ``last`` (up to and with the job's terminal event), the id
    of its last event, and whether that one ends the job."""
    batch = bytearray()
    sent = last
    for event in events:
        if event.id <= sent:
            continue
        batch += replay.encode(event)
        sent = event.id
        if event.type in JOB_TERMINAL_EVENTS:
            return framed(bytes(batch)), sent, True
    return framed(bytes(batch)), sent, False


class _Shared:
    """The chunk of the commit being handed over: the feed offers one commit's events of a job to each
    of its subscribers in turn (the same list), and every client that has all before them gets the
    same bytes. Made once per commit, not once per client (thousands of them share a process): it is
    kept with the list it was made of, and used while the list is the one offered."""

    __slots__ = ("_events", "_made")

    def __init__(self) -> None:
        self._events: Sequence[Event] | None = None
        self._made: tuple[bytes, int, bool] = (b"", 0, False)

    def of(self, events: Sequence[Event]) -> tuple[bytes, int, bool]:
        if events is not self._events:
            self._made = _chunk(events, events[0].id - 1)
            self._events = events
        return self._made


_SHARED = _Shared()


async def _stream(
    runtime: Runtime,
    sub: Subscription,
    job_id: UUID,
    last: int,
    status: JobStatus,
    page: list[replay.Encoded],
    direct: _Direct | None = None,
    hint: bytes = b"",
) -> AsyncIterator[bytes]:
    """The stream's body: ``hint`` (the ``retry:`` field), the replay, then live events."""

    def hand_over(events: Sequence[Event]) -> bool:
        """``sub.direct``: write the events to the client at once, from the caller's task (False:
        the stream's own task must, because the client cannot take more now)."""
        nonlocal last
        if direct is None or sub.closed or not direct.writable():
            return False
        if events and events[0].id > last:  # all of them: the chunk every such client of it gets
            chunk, sent, done = _SHARED.of(events)
        else:
            chunk, sent, done = _chunk(events, last)
        if chunk:
            try:
                direct.write_chunk(chunk)
            except Exception:  # the connection broke under us: the stream's task finds out itself
                log.debug("event stream: writing to the client failed; left to its stream", exc_info=True)
                return False
        last = sent
        if done:
            # Written here even so, not left to the stream's task with the response's end: one
            # commit's events reach thousands of clients sooner, a write each, than a task step each.
            sub.direct = None
            sub.close()  # wakes this stream's task, which ends the response
        return True

    metrics.labelled(metrics.SSE_OPEN, "job_events").inc()
    try:
        while True:
            # The status is read before the replay (the first time, by the route): if the job was over
            # then, the replay holds its last event. (A terminal event in the log is not the end when a
            # retry reopened the job.)
            ended = status in JOB_TERMINAL
            # The job may also end between that read and the replay: then the replay's last event is
            # its terminal one, and the live tail would drop it as already sent and wait forever.
            ends_replay = False
            async for chunk, (event_id, kind, _) in replay.pages(runtime.engine, job_id, last, page):
                yield hint + chunk
                hint = b""
                last = event_id
                ends_replay = kind in JOB_TERMINAL_EVENTS
            if ended or ends_replay:
                return
            if hint and sub.empty():  # nothing replayed or queued: the hint goes alone, now
                yield hint
                hint = b""
            while not sub.lagged and not sub.closed:
                # While this task waits with nothing queued, the feed writes the events itself.
                sub.direct = hand_over if direct is not None else None
                try:
                    if direct is not None:
                        # The watch writes its keepalives, and closes it if the client leaves.
                        first = await sub.get()
                    else:
                        async with asyncio.timeout(KEEPALIVE_S):  # no task per wait, unlike wait_for
                            first = await sub.get()
                except TimeoutError:
                    first = None
                finally:
                    sub.direct = None
                if _gone(sub):
                    return  # the client left, or the job's last event was handed over
                if first is None:
                    yield b": keepalive\n\n"
                    continue
                # Whatever else is queued goes in the same write: one send per commit, not per event
                # (the hint with the first, when events were queued before the stream started).
                batch = bytearray(hint)
                hint = b""
                for event in _queued(sub, first):
                    if event.id <= last:
                        continue
                    batch += replay.encode(event)
                    last = event.id
                    if event.type in JOB_TERMINAL_EVENTS:
                        yield Last(batch)  # with the response's end: one write
                        return
                if batch:
                    yield bytes(batch)
            if sub.closed:
                return  # the client left
            # The subscriber fell behind and events were dropped: catch up from the database.
            sub.drain()
            status, page = await runtime.reads.run(
                functools.partial(replay.status_and_page, job_id=job_id, after=last, tenant=None)
            )
    finally:
        metrics.labelled(metrics.SSE_OPEN, "job_events").dec()
        runtime.feed.unsubscribe(sub)


@router.get(
    "/jobs/changes",
    response_class=StreamingResponse,
    responses={
        200: {
            "model": JobsChanged,
            "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/JobsChanged"}}},
            "description": "Server-Sent Events: `ready` once listening, then `jobs.changed` (JobsChanged).",
        },
        503: {"model": schemas.ErrorOut, "description": "`too_many_streams`: retry after `Retry-After` s."},
    },
)
async def jobs_changes(runtime: RuntimeDep, request: Request) -> Response:
    """Which jobs changed, live, for a jobs list: a ``ready`` event once listening (read the list
    then), then a ``jobs.changed`` event naming the jobs with new events (``all`` when too many to
    name or when announcements may have been missed: read the whole list again). Changes close
    together are sent as one event. On reconnect, read the list again after ``ready``."""
    tenant = tenant_of(request)
    gate: StreamGate = request.app.state.streams
    if (slot := gate.take()) is None:
        return gate.refuse("jobs_changes", request.scope)
    return _Counted(
        _changes(runtime, tenant, reconnect_hint(request.scope)),
        slot=slot,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _Counted(StreamingResponse):
    """A stream that gives its slot back when its response ends, however it ends."""

    def __init__(self, content: AsyncIterator[bytes], *, slot: Slot, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


async def _changes(runtime: Runtime, tenant: str | None, hint: bytes = b"") -> AsyncIterator[bytes]:
    """The changes stream, after ``hint`` (the ``retry:`` field); with ``tenant``, naming only that
    tenant's jobs (``all`` only says to read the list again, which is the tenant's own)."""
    tenants = _Tenants(runtime) if tenant is not None else None
    board = await runtime.feed.watch_jobs()
    metrics.labelled(metrics.SSE_OPEN, "jobs_changes").inc()
    try:
        yield hint + b"event: ready\ndata: {}\n\n"
        while True:
            try:
                await asyncio.wait_for(board.wait(), timeout=KEEPALIVE_S)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            await asyncio.sleep(COALESCE_S)  # one event for a burst of commits
            job_ids, everything = board.take()
            if tenants is not None and tenant is not None and job_ids:
                job_ids = await tenants.keep(job_ids, tenant)
                if not job_ids and not everything:
                    continue
            body = JobsChanged(job_ids=sorted(job_ids), all=everything)
            yield f"event: jobs.changed\ndata: {body.model_dump_json()}\n\n".encode()
    finally:
        metrics.labelled(metrics.SSE_OPEN, "jobs_changes").dec()
        runtime.feed.unwatch_jobs(board)


class _Tenants:
    """Whose jobs are whose, for one tenant's changes stream: read from the database once per job."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._known: dict[UUID, str] = {}

    async def keep(self, job_ids: Iterable[UUID], tenant: str) -> set[UUID]:
        ids = set(job_ids)
        if missing := [j for j in ids if j not in self._known]:
            if len(self._known) > 10_000:
                self._known.clear()
            async with self._runtime.engine.connect() as conn:
                self._known.update(await queries.tenants_of(conn, missing))
        return {j for j in ids if self._known.get(j) == tenant}


# Each stream route's handler, called with the request alone, past the router (direct_routes.py).
DIRECT: dict[str, Handler] = {
    "GET /jobs/{job_id}/events": lambda request: job_events(uuid_in_path(request, "job_id"), request),
    "GET /jobs/changes": lambda request: jobs_changes(runtime_of(request), request),
}


def _gone(sub: Subscription) -> bool:
    """``sub.closed``, read through a call: it changes while the stream awaits (mypy would keep the
    ``not sub.closed`` of the loop's condition)."""
    return sub.closed


def _queued(sub: Subscription, first: Event) -> Iterator[Event]:
    """``first``, then every event already waiting in the subscription (up to a close)."""
    yield first
    while not sub.empty():
        event = sub.get_nowait()
        if event is None:
            return
        yield event

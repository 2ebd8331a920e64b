"""``GET /jobs/{id}/events``: the job's event log as Server-Sent Events, replay then live tail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from planwright.core.db.eventlog import events_after
from planwright.core.errors import PlanwrightError
from planwright.core.events import JOB_TERMINAL_EVENTS, Event
from planwright.core.states import JOB_TERMINAL
from planwright.services.api import queries, schemas
from planwright.services.api.deps import RuntimeDep
from planwright.services.runtime import Runtime

router = APIRouter(tags=["events"])
KEEPALIVE_S = 15.0
REPLAY_PAGE = 500


class InvalidLastEventId(PlanwrightError):
    code = "invalid_last_event_id"
    status_code = 422


def _sse(event: Event) -> bytes:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 404: {"model": schemas.ErrorOut}},
)
async def job_events(
    job_id: UUID,
    runtime: RuntimeDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Resume after this event id (as Last-Event-ID).")
    ] = None,
) -> StreamingResponse:
    """Every event of the job after ``Last-Event-ID`` (or ``after``), then live ones; ends after the
    job's terminal event. Each event's ``id`` is the one to resume from."""
    last = after or 0
    if last_event_id:
        if not last_event_id.strip().isdigit():
            raise InvalidLastEventId(
                f"Last-Event-ID must be an event id (a whole number), got {last_event_id!r}"
            )
        last = int(last_event_id)
    async with runtime.engine.connect() as conn:
        await queries.job_status(conn, job_id)  # 404 before the stream starts
    return StreamingResponse(
        _stream(runtime, job_id, last),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(runtime: Runtime, job_id: UUID, last: int) -> AsyncIterator[bytes]:
    # Subscribe before replaying, so nothing committed in between is missed; ids <= last are dropped.
    sub = await runtime.feed.subscribe(job_id)
    try:
        while True:
            sub.drain()
            async for chunk, event in _replay(runtime, job_id, last):
                yield chunk
                last = event.id
                if event.type in JOB_TERMINAL_EVENTS:
                    return
            async with runtime.engine.connect() as conn:
                if await queries.job_status(conn, job_id) in JOB_TERMINAL:
                    return  # resumed after the end: nothing more will come
            while not sub.lagged:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if event.id <= last:
                    continue
                yield _sse(event)
                last = event.id
                if event.type in JOB_TERMINAL_EVENTS:
                    return
            # The subscriber fell behind and events were dropped: catch up from the database.
    finally:
        runtime.feed.unsubscribe(sub)


async def _replay(runtime: Runtime, job_id: UUID, last: int) -> AsyncIterator[tuple[bytes, Event]]:
    while True:
        async with runtime.engine.connect() as conn:
            page = await events_after(conn, job_id, last, limit=REPLAY_PAGE)
        for event in page:
            yield _sse(event), event
            last = event.id
        if len(page) < REPLAY_PAGE:
            return

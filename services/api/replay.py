"""Reading a job's event log for its event stream: the status and the first page in one query, further
pages while one is full, and each event encoded as an SSE message once, however many clients get it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core.db.eventlog import events_after
from planwright.core.db.reads import fetch_all
from planwright.core.db.schema import events, jobs
from planwright.core.errors import NotFound
from planwright.core.events import Event
from planwright.core.states import JobStatus

PAGE = 500  # events per replay read
ENCODED_MAX = 8192
# (job id, event id) -> the SSE message: many clients replay the same events (a page open in many
# browsers, reconnects after a restart), and a live event goes to every client of its job.
ENCODED: OrderedDict[tuple[UUID, int], bytes] = OrderedDict()

# A replayed event: (id, type, the SSE message).
Encoded = tuple[int, str, bytes]


def encode(event: Event) -> bytes:
    """The event as an SSE message, encoded once however many clients it goes to."""
    key = (event.job_id, event.id)
    data = ENCODED.get(key)
    if data is None:
        data = f"id: {event.id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n".encode()
        ENCODED[key] = data
        if len(ENCODED) > ENCODED_MAX:
            ENCODED.popitem(last=False)
    return data


_IDS_AFTER = (
    sa.select(events.c.id, events.c.type)
    .where(
        events.c.job_id == sa.bindparam("job_id", type_=sa.Uuid),
        events.c.id > sa.bindparam("after", type_=sa.BigInteger),
    )
    .order_by(events.c.id)
    .limit(PAGE)
)
# The job's row (its status, whose it is; ``id`` null) and the ids of the first page, in one query.
# (A join would sort every event of the job after ``after`` before the limit; each part of the union
# reads only what it returns.)
_PAGE_IDS = _IDS_AFTER.subquery()
_BOTH = sa.union_all(
    sa.select(jobs.c.status, jobs.c.tenant, sa.null().label("id"), sa.null().label("type")).where(
        jobs.c.id == sa.bindparam("job_id", type_=sa.Uuid)
    ),
    sa.select(sa.null(), sa.null(), _PAGE_IDS.c.id, _PAGE_IDS.c.type),
).subquery()
_STATUS_AND_IDS = sa.select(_BOTH).order_by(sa.nulls_first(_BOTH.c.id))


async def status_and_page(
    conn: AsyncConnection, *, job_id: UUID, after: int, tenant: str | None
) -> tuple[JobStatus, list[Encoded]]:
    """The job's status (NotFound if there is no such job, or not ``tenant``'s), then its first page
    after ``after``: one query, and a second only if an event of the page is not in the encoding
    cache."""
    rows = await fetch_all(conn, _STATUS_AND_IDS, {"job_id": job_id, "after": after})
    if not rows or rows[0].id is not None or (tenant is not None and rows[0].tenant != tenant):
        raise NotFound(f"job {job_id} not found")
    return JobStatus(rows[0].status), await _encoded(conn, job_id, after, rows[1:])


async def pages(
    engine: AsyncEngine, job_id: UUID, last: int, page: list[Encoded]
) -> AsyncIterator[tuple[bytes, Encoded]]:
    """The job's events after ``last``, starting with ``page`` (already read): each page as one chunk,
    with its last event; further pages are read while a page is full."""
    while True:
        if page:
            yield b"".join(data for _, _, data in page), page[-1]
            last = page[-1][0]
        if len(page) < PAGE:
            return
        async with engine.connect() as conn:
            ids = await fetch_all(conn, _IDS_AFTER, {"job_id": job_id, "after": last})
            page = await _encoded(conn, job_id, last, ids)


async def _encoded(conn: AsyncConnection, job_id: UUID, after: int, rows: Sequence[Any]) -> list[Encoded]:
    """The page whose ids and types are ``rows``, encoded. The ids are read first, and the events
    themselves only when one of them is not in the encoding cache."""
    cached = [(r.id, r.type, ENCODED.get((job_id, r.id))) for r in rows]
    if all(data is not None for _, _, data in cached):
        return cast(list[Encoded], cached)
    return [(e.id, e.type, encode(e)) for e in await events_after(conn, job_id, after, limit=PAGE)]

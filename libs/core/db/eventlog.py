"""Appending to and reading the job event log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.reads import fetch_all
from planwright.core.db.schema import events
from planwright.core.db.writes import insert_returning_ids
from planwright.core.events import Event, EventDraft, as_utc, utcnow


async def append_events(conn: AsyncConnection, drafts: Sequence[EventDraft]) -> list[Event]:
    """Insert events in order inside the caller's transaction; returns them with their ids."""
    if not drafts:
        return []
    now = utcnow()
    ids = await insert_returning_ids(conn, events, event_rows(drafts, now))
    return committed(drafts, ids, now)


def event_rows(drafts: Sequence[EventDraft], now: datetime) -> list[dict[str, Any]]:
    """The ``events`` rows of ``drafts``, stamped ``now``."""
    return [
        {"job_id": d.job_id, "type": d.type, "task_id": d.task_id, "data": d.data, "created_at": now}
        for d in drafts
    ]


def committed(drafts: Sequence[EventDraft], ids: Sequence[int], now: datetime) -> list[Event]:
    """The events as stored: the drafts with their ids and time."""
    # Made the validating way: pydantic's compiled validator takes ~2.0 us for an event here, its
    # Python ``model_construct`` ~3.3 us (docs/performance.md, eighteenth round).
    return [
        Event(id=i, created_at=now, job_id=d.job_id, type=d.type, task_id=d.task_id, data=d.data)
        for i, d in zip(ids, drafts, strict=True)
    ]


_AFTER = (
    sa.select(events)
    .where(
        events.c.job_id == sa.bindparam("job_id", type_=sa.Uuid),
        events.c.id > sa.bindparam("after", type_=sa.BigInteger),
    )
    .order_by(events.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)


async def events_after(conn: AsyncConnection, job_id: UUID, after: int, limit: int = 1000) -> list[Event]:
    """A job's events with id > ``after``, oldest first."""
    rows = await fetch_all(conn, _AFTER, {"job_id": job_id, "after": after, "limit": limit})
    # Rows of the event log were validated when they were appended: no second validation.
    return [
        Event.model_construct(
            id=r.id,
            job_id=r.job_id,
            type=r.type,
            task_id=r.task_id,
            data=r.data,
            created_at=as_utc(r.created_at),
        )
        for r in rows
    ]

"""Transactional outbox: messages written with the state change that justifies them, sent after commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core.bus.base import Bus
from planwright.core.db.schema import outbox
from planwright.core.events import utcnow
from planwright.core.messages import Message, decode, encode

log = logging.getLogger(__name__)


async def enqueue(conn: AsyncConnection, items: Sequence[tuple[str, Message]]) -> None:
    """Write ``(stream, message)`` pairs to the outbox inside the caller's transaction."""
    if items:
        now = utcnow()
        await conn.execute(
            sa.insert(outbox),
            [{"stream": s, "payload": encode(m).decode(), "created_at": now} for s, m in items],
        )


class OutboxRelay:
    """Moves committed outbox rows onto the bus, in order; rows are deleted only after publishing.

    ``kick()`` after a commit publishes at once; a slow periodic sweep covers rows left by a crash
    or by a bus outage. A row may be published twice (crash between publish and delete); every
    consumer is idempotent, so that is safe.
    """

    def __init__(self, engine: AsyncEngine, bus: Bus, *, batch: int = 500, sweep_s: float = 1.0) -> None:
        self._engine = engine
        self._bus = bus
        self._batch = batch
        self._sweep_s = sweep_s
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def backlog(self) -> int:
        """Rows committed but not yet published (for metrics)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar() or 0)

    def kick(self) -> None:
        self._wake.set()

    async def flush(self) -> int:
        """Publish everything pending; returns how many messages went out."""
        total = 0
        async with self._lock:
            while True:
                sent = await self._flush_batch()
                total += sent
                if sent < self._batch:
                    return total

    async def _flush_batch(self) -> int:
        async with self._engine.begin() as conn:
            query = sa.select(outbox.c.id, outbox.c.stream, outbox.c.payload).order_by(outbox.c.id)
            query = query.limit(self._batch).with_for_update(skip_locked=True)
            rows = (await conn.execute(query)).all()
            if not rows:
                return 0
            by_stream: dict[str, list[Message]] = {}
            for row in rows:
                by_stream.setdefault(row.stream, []).append(decode(row.payload))
            for stream, messages in by_stream.items():
                await self._bus.publish(stream, messages)
            await conn.execute(sa.delete(outbox).where(outbox.c.id.in_([r.id for r in rows])))
            return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish on every kick and every ``sweep_s``; a final flush happens on stop."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._sweep_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("outbox relay: publishing failed; will retry")

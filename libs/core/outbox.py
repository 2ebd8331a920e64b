"""Getting messages from a committed transaction onto the bus (docs/adr/0003, 0013).

A transaction hands its messages to ``Outbox.write`` and, once it has committed, the returned
``Pending`` to ``Outbox.sent``. Nothing reaches the bus before the commit.

- ``OutboxRelay`` (distributed mode): the messages are outbox rows written in the transaction. After
  the commit the process that wrote them publishes them straight away (no read back) and deletes the
  rows in the background; rows left by a crash or a failed publish are published by a sweep.
- ``DirectOutbox`` (embedded mode): the in-process bus dies with the process, and every start
  re-issues unfinished work from the database (the reconciler), so a row would add nothing: the
  messages are published right after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core import names, outage
from planwright.core.bus.base import Bus
from planwright.core.consumer import failure_for_payload, undecodable
from planwright.core.db.engine import Writer
from planwright.core.db.schema import outbox
from planwright.core.db.writes import delete_by_id, insert_returning_ids
from planwright.core.events import Event, utcnow
from planwright.core.feed import EventFeed, MemoryFeed
from planwright.core.messages import Message, decode, encode

log = logging.getLogger(__name__)

Items = Sequence[tuple[str, Message]]


@dataclass
class Pending:
    """What a transaction wrote for the bus: its messages, and their outbox row ids (durable mode)."""

    items: list[tuple[str, Message]] = field(default_factory=list)
    row_ids: list[int] = field(default_factory=list)

    def extend(self, other: Pending) -> None:
        self.items.extend(other.items)
        self.row_ids.extend(other.row_ids)


class Outbox(Protocol):
    async def write(self, conn: AsyncConnection, items: Items) -> Pending:
        """Record ``(stream, message)`` pairs inside the caller's transaction."""

    async def sent(self, pending: Pending) -> None:
        """After the commit: put the messages on the bus."""


async def announce(
    feed: EventFeed,
    outbox: Outbox,
    events: Sequence[Event],
    pending: Pending,
    follows: Mapping[UUID, int] | None = None,
    *,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """After a commit: the committed events to the live feed and the messages to the bus
    (``follows``: see ``EventFeed.publish``); ``meanwhile`` (the committer's own bookkeeping, the
    answer to a request) runs once both are on their way.

    The in-process feed hands the events themselves to subscribers, so they go first: a message sent
    now can cause the job's next events. The Redis feed announces the events to other processes and
    hands this process's own SSE clients theirs; the messages follow, and the announcement and the
    messages go to Redis in one write. A job followed by one stream here gets its events written
    just after that write (the next step of the work waits on the messages; ``RedisFeed.batched``),
    a job followed by several just before it. All of that happens before ``meanwhile``, which then
    runs while Redis delivers them.
    """
    if isinstance(feed, MemoryFeed):
        if meanwhile is not None:
            meanwhile()
        await feed.publish(events)
        await outbox.sent(pending)
        return
    try:
        # With the Redis feed on the bus's connection, both first steps' commands go in one write.
        with feed.batched():
            publishing = asyncio.ensure_future(feed.publish(events, follows))
            sending = asyncio.ensure_future(outbox.sent(pending)) if pending.items else None
            await asyncio.sleep(0)  # one step each, in that order: their writes are on the sockets
    finally:
        if meanwhile is not None:
            meanwhile()
    # Both are awaited to the end (the caller's lock covers the whole publish); then a failure is raised.
    for outcome in await asyncio.gather(publishing, *([sending] if sending else []), return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


async def publish_in_order(bus: Bus, items: Items) -> None:
    """Publish grouped by stream, each stream's messages in the order given."""
    by_stream: dict[str, list[Message]] = {}
    for stream, message in items:
        by_stream.setdefault(stream, []).append(message)
    for stream, messages in by_stream.items():
        await bus.publish(stream, messages)


class DirectOutbox:
    """Embedded mode: publish after the commit; a restart re-issues unfinished work from the database."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def write(self, conn: AsyncConnection, items: Items) -> Pending:
        return Pending(list(items))

    async def sent(self, pending: Pending) -> None:
        await publish_in_order(self._bus, pending.items)


class OutboxRelay:
    """Distributed mode: outbox rows, published by their writer after commit, swept if left behind.

    ``sent`` publishes what this process just committed and queues the rows for deletion (every
    ``delete_every_s``, many commits' rows in one statement). A sweep every ``sweep_s`` (and ``flush``
    at start) publishes rows older than ``grace_s``, left by a crash of any process or by a publish
    that failed, so a live writer and the sweep rarely both send one.
    A row may still be published twice (a crash between publish and delete); every consumer is
    idempotent, so that is safe.

    The relay's deletes and sweeps run on one connection it holds (``Writer``): a pool checkout, with
    its pre-ping's round trips, for each of the five deletes a second cost more than the delete.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        *,
        batch: int = 500,
        sweep_s: float = 1.0,
        grace_s: float = 2.0,
        delete_every_s: float = 0.2,
    ) -> None:
        self._engine = engine
        self._writer = Writer(engine)  # used under ``_lock``, one statement or transaction at a time
        self._bus = bus
        self._batch = batch
        self._sweep_s = sweep_s
        self._grace_s = grace_s
        self._delete_every_s = delete_every_s
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._published: list[int] = []  # rows on the bus, still to delete
        self._failed = False  # a publish after commit failed: sweep everything, young rows too
        self._outage = outage.Outage("outbox relay", "keeping the rows until it answers", logger=log)

    async def write(self, conn: AsyncConnection, items: Items) -> Pending:
        if not items:
            return Pending()
        return Pending(list(items), await insert_returning_ids(conn, outbox, self.rows(items)))

    @staticmethod
    def rows(items: Items) -> list[dict[str, Any]]:
        """The outbox rows of ``items`` (for a caller that inserts them itself; ``Pending`` takes
        the items and the rows' ids)."""
        now = utcnow()
        return [{"stream": s, "payload": encode(m).decode(), "created_at": now} for s, m in items]

    async def sent(self, pending: Pending) -> None:
        if not pending.items:
            return
        try:
            await publish_in_order(self._bus, pending.items)
        except Exception as exc:  # the rows stay; the sweep publishes them once the bus answers
            if outage.unavailable(exc):
                self._outage.failed(exc)
            else:
                log.warning("outbox: publishing after commit failed (%s); the relay will retry", exc)
            self._failed = True
            self._wake.set()
        else:
            self._published.extend(pending.row_ids)
            if len(self._published) >= self._batch:
                self._wake.set()  # else the next tick deletes them, many commits' rows in one statement

    async def backlog(self) -> int:
        """Rows committed but not yet published and deleted (for metrics)."""
        async with self._engine.connect() as conn:
            return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar() or 0)

    def kick(self) -> None:
        self._wake.set()

    async def close(self) -> None:
        """Give the relay's connection back (after ``run`` has ended)."""
        async with self._lock:
            await self._writer.close()

    async def flush(self, *, min_age_s: float = 0.0) -> int:
        """Publish every row older than ``min_age_s``; returns how many messages went out."""
        total = 0
        async with self._lock:
            await self._delete_published()
            while True:
                sent = await self._flush_batch(min_age_s)
                total += sent
                if sent < self._batch:
                    return total

    async def _delete_published(self) -> None:
        ids, self._published = self._published, []
        for start in range(0, len(ids), self._batch):
            delete = functools.partial(delete_by_id, table=outbox, ids=ids[start : start + self._batch])
            try:
                await self._writer.once(delete)
            except Exception:
                self._published.extend(ids[start:])  # try again on the next pass
                raise

    async def _flush_batch(self, min_age_s: float) -> int:
        return await self._writer.run(lambda conn: self._publish_batch(conn, min_age_s))

    async def _publish_batch(self, conn: AsyncConnection, min_age_s: float) -> int:
        """One transaction of ``flush``: up to a batch of rows locked, published, deleted."""
        query = sa.select(outbox.c.id, outbox.c.stream, outbox.c.payload).order_by(outbox.c.id)
        if min_age_s > 0:
            query = query.where(outbox.c.created_at < utcnow() - timedelta(seconds=min_age_s))
        query = query.limit(self._batch).with_for_update(skip_locked=True)
        rows = (await conn.execute(query)).all()
        if not rows:
            return 0
        items: list[tuple[int, str, Message]] = []
        for row in rows:
            try:
                items.append((row.id, row.stream, decode(row.payload)))
            except Exception as exc:  # a row no consumer could read must not hold up the rest
                await self._move_aside(row.id, row.stream, row.payload, undecodable(exc))
        await self._publish_rows(items)
        await delete_by_id(conn, outbox, [r.id for r in rows])
        return len(rows)

    async def _publish_rows(self, items: Sequence[tuple[int, str, Message]]) -> None:
        """Publish decoded rows. If the bus refuses them for a reason other than being away, they
        go one by one, and a row refused alone is moved aside (a row published twice is harmless)."""
        try:
            await publish_in_order(self._bus, [(stream, message) for _, stream, message in items])
        except Exception as exc:
            if outage.unavailable(exc):
                raise  # the bus is away: the rows stay for the next sweep
            if len(items) > 1:
                for item in items:
                    await self._publish_rows([item])
                return
            row_id, stream, message = items[0]
            reason = f"the bus refused it: {type(exc).__name__}: {str(exc)[:200]}"
            await self._move_aside(row_id, stream, encode(message), reason)

    async def _move_aside(self, row_id: int, stream: str, payload: str | bytes, reason: str) -> None:
        """Dead-letter an outbox row that cannot go out, and fail the work it names (through the
        Orchestrator, which owns job state: a failure on its stream, as for a message given up on)."""
        data = payload.encode(errors="replace") if isinstance(payload, str) else payload
        failure = failure_for_payload(data, f"{reason} (outbox row {row_id} for {stream}; dead-lettered)")
        if failure is not None:
            await self._bus.publish(names.ORCHESTRATOR, [failure])
        await self._bus.dead_letter_payload(stream, f"outbox:{row_id}", data, reason)

    async def run(self, stop: asyncio.Event) -> None:
        """Delete what was published (every ``delete_every_s``, or at once when a batch is waiting), and
        sweep rows left behind every ``sweep_s`` (at once after a failed publish). While the database or
        the bus is away, it tries again every ``sweep_s``, logging the outage once when it starts and
        once when it ends."""
        next_sweep = time.monotonic() + self._sweep_s
        while not stop.is_set():
            wait = min(self._delete_every_s, max(next_sweep - time.monotonic(), 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            self._wake.clear()
            try:
                if self._failed or time.monotonic() >= next_sweep:
                    everything, self._failed = self._failed, False
                    await self.flush(min_age_s=0.0 if everything else self._grace_s)
                    self._outage.recovered()  # the sweep got through
                    next_sweep = time.monotonic() + self._sweep_s
                else:
                    async with self._lock:
                        await self._delete_published()
            except Exception as exc:
                self._failed = True
                if outage.unavailable(exc):
                    self._outage.failed(exc)
                else:
                    log.exception("outbox relay: publishing failed; will retry")
                await asyncio.sleep(self._sweep_s)
        with contextlib.suppress(Exception):  # rows left here are swept by whichever relay runs next
            async with self._lock:
                await self._delete_published()

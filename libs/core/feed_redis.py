"""Live events across API replicas: a per-job Redis stream announces commits; Postgres has the events.

One reader per API process, however many jobs and clients it watches: a single blocking XREAD over
every watched job's stream (plus a control stream that wakes it when a new job is watched). When a
job's stream grows, the events after the last one handed out are read from the database, in id
order. Reading the database rather than trusting the Redis entries keeps the stream gap-free even
when two replicas publish out of order (docs/adr/0006-live-events-wake-up-then-read-postgres.md).

The process that committed a job's events hands them to its own subscribers at once, without that
read, when it knows they follow exactly the last event those subscribers had (``follows``: no other
process wrote the job in between); its own announcement then finds them served and reads nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
import sqlalchemy as sa
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core import names
from planwright.core.bus.redis import RETRYABLE, entry_fields, raise_errors
from planwright.core.bus.resp import Command, RespConnection
from planwright.core.db.engine import HeldReader, ReadPool
from planwright.core.db.eventlog import events_after
from planwright.core.db.reads import fetch_all
from planwright.core.db.schema import events
from planwright.core.events import Event
from planwright.core.feed import JobChanges, Subscription, by_job

log = logging.getLogger(__name__)
PAGE = 500
# Where a job's events stand when its first subscriber here arrives (built once: fetch_all).
_LAST_ID = sa.select(sa.func.max(events.c.id).label("last")).where(
    events.c.job_id == sa.bindparam("job_id", type_=sa.Uuid)
)


@dataclass
class _Watch:
    """One watched job in this process: its subscribers and how far they have been served."""

    subs: set[Subscription] = field(default_factory=set)
    last: int = 0  # the last event id handed to the subscribers
    position: str = "0-0"  # the last Redis entry seen on the job's stream
    # Done once ``last`` is known (made inside the event loop: watches are made by ``subscribe``).
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def known(self) -> bool:
        return self.ready.done() and not self.ready.cancelled() and self.ready.exception() is None


class RedisFeed:
    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        *,
        prefix: str = "",
        sweep_s: float = 15.0,
        stream_maxlen: int = 1000,
        ttl_s: int = 86_400,
        reads: ReadPool | None = None,
    ) -> None:
        # Connections of its own, never one the bus needs, named per process (CLIENT LIST tells the
        # feeds apart): redis-py for what is not per commit, lean RESP ones for the rest.
        instance = uuid.uuid4().hex[:16]
        self.client_name = f"planwright-feed-{instance}"
        self.redis = aioredis.Redis.from_url(url, socket_timeout=sweep_s + 10, client_name=self.client_name)
        self._out = RespConnection.like(self.redis, self.client_name)  # announcements, on the hot path
        # The reader's blocking XREAD: it wakes at every commit of a watched job (this process's own
        # announcements too), so it goes without redis-py's per-command wrappers as well.
        self._in = RespConnection.like(self.redis, self.client_name)
        self.engine = engine
        self._db = HeldReader(engine)  # the reader's own connection: no pool checkout per wake-up
        # Subscribing reads on held connections too (the API's, when given): a client opening a
        # stream costs one round trip here, not a checkout with its pre-ping and a transaction.
        self._reads = reads if reads is not None else ReadPool(engine, size=2)
        self._own_reads = reads is None
        self.prefix = prefix
        self._sweep_s = sweep_s
        self._maxlen = stream_maxlen
        self._ttl_s = ttl_s
        self._watches: dict[UUID, _Watch] = {}
        self._boards: set[JobChanges] = set()
        self._changes = f"{prefix}{names.JOBS_CHANGED}"  # which jobs got events, for live job lists
        self._changes_position = "$"
        self._control = f"{prefix}{names.PREFIX}:feedctl:{instance}"
        self._control_position = "$"
        self._reader: asyncio.Task[None] | None = None
        self._closed = False

    def key(self, job_id: UUID) -> str:
        return f"{self.prefix}{names.job_events_stream(job_id)}"

    async def publish(self, committed: Sequence[Event], follows: Mapping[UUID, int] | None = None) -> None:
        last: dict[UUID, int] = {}
        for event in committed:
            last[event.job_id] = event.id
        if not last:
            return
        if follows:
            self._hand_over(committed, follows)
        commands: list[Command] = []
        for job_id, event_id in last.items():
            key = self.key(job_id)
            commands += [
                ("XADD", key, "MAXLEN", "~", self._maxlen, "*", "id", event_id),
                ("EXPIRE", key, self._ttl_s),
            ]
        changed = ",".join(str(job_id) for job_id in last)
        commands += [
            ("XADD", self._changes, "MAXLEN", "~", self._maxlen, "*", "jobs", changed),
            ("EXPIRE", self._changes, self._ttl_s),
        ]
        try:
            raise_errors(await self._out.execute(commands))
        except RETRYABLE as exc:
            # The events are committed; readers pick them up on their next sweep.
            log.warning("feed: could not announce events (%s)", exc)

    def _hand_over(self, committed: Sequence[Event], follows: Mapping[UUID, int]) -> None:
        """Offer committed events to this process's subscribers of their job, where they follow
        exactly the last event those were handed (else the reader reads them, as for any process)."""
        for job_id, job_events in by_job(committed).items():
            watch = self._watches.get(job_id)
            if watch is None or not watch.known or follows.get(job_id) != watch.last:
                continue
            job_events.sort(key=lambda e: e.id)
            for sub in list(watch.subs):
                sub.offer_all(job_events)
            watch.last = job_events[-1].id

    async def subscribe(self, job_id: UUID, *, new: bool = False) -> Subscription:
        sub = Subscription(job_id)
        watch = self._watches.get(job_id)
        if watch is None and new:
            # A job about to be stored has no events yet: its committer hands over the first ones
            # (``follows`` 0), and the reader watches its stream for those another process writes.
            watch = self._watches[job_id] = _Watch()
            watch.ready.set_result(None)
            await self._wake_reader()
        elif watch is None:
            # The first subscriber of a job here reads where its events stand; those who arrive
            # meanwhile (a page opened by many at once) wait for that one read instead of each
            # making their own.
            watch = self._watches[job_id] = _Watch()
            try:
                rows = await self._reads.run(
                    functools.partial(fetch_all, stmt=_LAST_ID, params={"job_id": job_id})
                )
                watch.last = rows[0].last or 0
            except BaseException as exc:
                if self._watches.get(job_id) is watch:
                    del self._watches[job_id]
                watch.ready.set_exception(exc)
                watch.ready.exception()  # retrieved: no "never retrieved" warning when nobody waited
                raise
            watch.ready.set_result(None)
            await self._wake_reader()
        else:
            await asyncio.shield(watch.ready)
        watch.subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        watch = self._watches.get(sub.job_id)
        if watch is not None:
            watch.subs.discard(sub)
            if not watch.subs:
                del self._watches[sub.job_id]

    async def watch_jobs(self) -> JobChanges:
        board = JobChanges()
        if not self._boards:
            try:  # from the stream's current end, so nothing announced after this returns is missed
                newest: Any = await self.redis.xrevrange(self._changes, count=1)
                self._changes_position = newest[0][0].decode() if newest else "0-0"
            except RETRYABLE:
                self._changes_position = "$"
                board.offer_everything()
        self._boards.add(board)
        await self._wake_reader()
        return board

    def unwatch_jobs(self, changes: JobChanges) -> None:
        self._boards.discard(changes)

    async def _wake_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="feed-reader")
            return
        # On the way of a client connecting: one round trip, on the announcements' connection.
        wake: list[Command] = [
            ("XADD", self._control, "MAXLEN", "~", 10, "*", "wake", "1"),
            ("EXPIRE", self._control, self._ttl_s),
        ]
        with contextlib.suppress(*RETRYABLE):  # without Redis the reader sweeps on its own
            raise_errors(await self._out.execute(wake))

    async def _read(self) -> None:
        next_sweep = time.monotonic() + self._sweep_s
        while self._watches or self._boards:
            keys = {self.key(job_id): job_id for job_id, watch in self._watches.items() if watch.known}
            streams: dict[Any, Any] = {key: self._watches[job_id].position for key, job_id in keys.items()}
            streams[self._control] = self._control_position
            if self._boards:
                streams[self._changes] = self._changes_position
            woken: set[UUID] = set()
            changed: set[UUID] = set()
            try:
                read = ("XREAD", "COUNT", 100, "BLOCK", int(self._sweep_s * 1000), "STREAMS", *streams)
                (reply,) = await self._in.execute([(*read, *streams.values())], blocking_s=self._sweep_s)
                if isinstance(reply, ResponseError):
                    raise reply
            except RETRYABLE as exc:
                if self._closed:
                    return
                log.warning("feed: redis unavailable (%s); reading the database instead", exc)
                await asyncio.sleep(1.0)
                reply, woken = None, set(self._watches)
                self._tell_boards(everything=True)
            for raw_key, raw_entries in reply or []:
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                entries = entry_fields(raw_entries)
                position = entries[-1][0].decode()
                if key == self._control:
                    self._control_position = position
                elif key == self._changes:
                    self._changes_position = position
                    ids = _changed_jobs(entries)
                    if ids is None:  # an entry that does not read: any job may have changed
                        self._tell_boards(everything=True)
                    else:
                        changed.update(ids)
                elif (job_id := keys.get(key)) in self._watches:
                    watch = self._watches[job_id]
                    watch.position = position
                    # Announced up to an event already handed out (this process committed it and
                    # handed it over itself): nothing to read.
                    if _announced(entries) > watch.last:
                        woken.add(job_id)
            if time.monotonic() >= next_sweep:  # a safety net for an announcement that was lost
                woken, next_sweep = set(self._watches), time.monotonic() + self._sweep_s
                self._tell_boards(everything=True)
            if changed:
                self._tell_boards(changed)
            for job_id in woken:
                await self._fan_out(job_id)

    def _tell_boards(self, job_ids: set[UUID] | None = None, *, everything: bool = False) -> None:
        for board in self._boards:
            if everything:
                board.offer_everything()
            else:
                board.offer(job_ids or ())

    async def _fan_out(self, job_id: UUID) -> None:
        """Hand the job's new events, from the database, to everyone watching it here."""
        try:
            while (watch := self._watches.get(job_id)) is not None and watch.known:
                page = await self._db.run(functools.partial(_page, job_id=job_id, after=watch.last))
                # Skip what ``publish`` handed over while this read ran.
                fresh = [event for event in page if event.id > watch.last]
                if fresh:
                    for sub in list(watch.subs):
                        sub.offer_all(fresh)
                    watch.last = fresh[-1].id
                if len(page) < PAGE:
                    return
        except Exception:
            log.exception("feed: reading the events of job %s failed; the next sweep retries", job_id)

    def subscriber_count(self) -> int:
        return sum(len(w.subs) for w in self._watches.values())

    async def close(self) -> None:
        self._closed = True
        self._watches.clear()
        self._boards.clear()
        self._out.close()
        self._in.close()  # ends the reader's blocking read at once
        await self.redis.aclose()
        if self._reader is not None:
            await asyncio.wait([self._reader], timeout=5.0)
        await self._db.close()
        if self._own_reads:
            await self._reads.close()


def _changed_jobs(entries: Any) -> set[UUID] | None:
    """The job ids ``pw:jobs-changed`` entries name (None if one cannot be read: the reader must
    not stop on an entry it does not understand)."""
    try:
        return {UUID(j) for _, fields in entries for j in fields[b"jobs"].decode().split(",")}
    except (KeyError, ValueError, AttributeError):
        return None


def _announced(entries: Any) -> float:
    """The newest event id announced by a job stream's ``entries`` (infinity if one cannot be read)."""
    try:
        return max(int(fields[b"id"]) for _, fields in entries)
    except (KeyError, ValueError):
        return math.inf


async def _page(conn: AsyncConnection, *, job_id: UUID, after: int) -> list[Event]:
    return await events_after(conn, job_id, after, limit=PAGE)

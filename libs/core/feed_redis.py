"""Live events across API replicas: a process is told of the commits of the jobs it watches that
other processes made; Postgres has the events.

Each process's live feed registers the jobs its SSE clients watch (``pw:watchers:<job id>``, a sorted
set of feed ids, each lapsing unless renewed). After a commit, the committer's announcement (one
script) appends a wake-up (job, last event id) to the inbox stream of every other process that
watches a job of the commit (``pw:feedbox:<feed id>``). One reader per process, however many jobs
and clients it watches: a single blocking XREAD over its inbox (plus a control stream, and the
jobs-changed stream while a live job list is open). When a wake-up names events after the last one
handed out, those are read from the database, in id order. Reading the database rather than trusting
the Redis entries keeps the stream gap-free even when two replicas announce out of order
(docs/adr/0006-live-events-wake-up-then-read-postgres.md, docs/adr/0035).

The process that committed a job's events hands them to its own subscribers at once, without that
read, when it knows they follow exactly the last event those subscribers had (``follows``: no other
process wrote the job in between); else its reader reads them, woken by the announcement's control
entry. A process is never told of its own commits through its inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
import sqlalchemy as sa
from redis.exceptions import ResponseError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from planwright.core import names
from planwright.core.bus.redis import RETRYABLE, entry_fields, raise_errors
from planwright.core.bus.resp import Command, RespConnection, Script, run_all
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

# Registers ARGV[1] (a feed) as watching the job of each of KEYS (their watcher sets) for ARGV[2] ms
# more, by Redis's clock; each set expires ARGV[3] s after its last registration. Returns how many of
# the registrations were new (a renewal that is new means one had been lost: Redis lost its data).
_REGISTER = """
local t = redis.call('TIME')
local lapse = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
local new = 0
for i = 1, #KEYS do
  new = new + redis.call('ZADD', KEYS[i], lapse, ARGV[1])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return new
"""

# A commit's announcement. KEYS[1]: the jobs-changed stream; KEYS[2..]: the watcher sets of the
# commit's jobs. ARGV: the announcing feed, the inboxes' key prefix, the streams' cap, their TTL (s),
# the changed job ids (comma-separated), then per job of KEYS[2..] its id and its last new event id.
# Every other feed whose watch has not lapsed gets a wake-up in its inbox; lapsed watches (their
# process died) are dropped. Returns how many wake-ups were appended.
_ANNOUNCE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, boxes, cap, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local told = 0
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  for _, feed in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    if feed ~= me then
      local inbox = boxes .. feed
      redis.call('XADD', inbox, 'MAXLEN', '~', cap, '*', 'job', ARGV[2 * i + 2], 'id', ARGV[2 * i + 3])
      redis.call('EXPIRE', inbox, ttl)
      told = told + 1
    end
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', cap, '*', 'jobs', ARGV[5])
redis.call('EXPIRE', KEYS[1], ttl)
return told
"""
_REGISTER_SCRIPT = Script(_REGISTER)
_ANNOUNCE_SCRIPT = Script(_ANNOUNCE)


@dataclass
class _Watch:
    """One watched job in this process: its subscribers and how far they have been served."""

    subs: set[Subscription] = field(default_factory=set)
    last: int = 0  # the last event id handed to the subscribers
    registered: bool = False  # in the job's watcher set (a new job's: with its first announcement)
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
        connection: RespConnection | None = None,
    ) -> None:
        # Connections of its own, never one the bus needs, named per process (CLIENT LIST tells the
        # feeds apart): redis-py for what is not per commit, lean RESP ones for the rest.
        self.id = uuid.uuid4().hex[:16]
        self.client_name = f"planwright-feed-{self.id}"
        self.redis = aioredis.Redis.from_url(url, socket_timeout=sweep_s + 10, client_name=self.client_name)
        # Announcements and registrations (never a blocking command): on ``connection`` when given,
        # the bus's, so that a commit's announcement and its messages go to Redis in one write
        # (``batched``); else on one of its own.
        self._out = connection or RespConnection.like(self.redis, self.client_name)
        self._own_out = connection is None
        # The reader's blocking XREAD, woken by other processes' commits of the jobs watched here: it
        # goes without redis-py's per-command wrappers as well.
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
        # A watch lapses this long after its last renewal (the reader renews them at every sweep):
        # the watches of a process that died stop being announced to within a minute.
        self._watch_ms = int(sweep_s * 4 * 1000)
        self._watches: dict[UUID, _Watch] = {}
        self._left: set[UUID] = set()  # jobs no longer watched here, to take out of their watcher sets
        self._stale: set[UUID] = set()  # committed here, not handed over: the reader reads them
        self._reregister = False  # a registration may have been lost (Redis away): renew them all
        self._boards: set[JobChanges] = set()
        self._changes = f"{prefix}{names.JOBS_CHANGED}"  # which jobs got events, for live job lists
        self._changes_position = "$"
        self._boxes = f"{prefix}{names.feed_inbox('')}"
        self._inbox = f"{self._boxes}{self.id}"
        self._inbox_position = "0-0"  # the inbox is this process's alone: everything in it is news
        self._control = f"{prefix}{names.feed_control(self.id)}"
        self._control_position = "0-0"  # its own too: a wake-up sent before the reader's first read counts
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        # Inside ``batched``: the hand-overs to write once the batch's write to Redis is out.
        self._after_write: list[tuple[Subscription, list[Event]]] | None = None

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """While in it, the announcements and whatever else the same connection sends (the bus's
        messages, when the feed shares the bus's connection) go to Redis in one write. The events
        of a job that one stream here follows (its submitter's, most often) are written to that
        stream right after that write: the commit's messages, which start the job's next step,
        go first. A job that several streams here follow has its events written before it, as
        outside a batch: a job watched by many moves no faster than its events reach them
        (docs/performance.md, sixteenth round)."""
        if self._after_write is not None:  # within another committer's batch: its write, its end
            with self._out.corked():
                yield
            return
        after: list[tuple[Subscription, list[Event]]] = []
        self._after_write = after
        try:
            with self._out.corked():
                yield
        finally:
            self._after_write = None
            for sub, job_events in after:  # handed over already (``last`` moved): always written
                sub.offer_all(job_events)

    def _watchers(self, job_id: UUID) -> str:
        return f"{self.prefix}{names.feed_watchers(job_id)}"

    async def publish(self, committed: Sequence[Event], follows: Mapping[UUID, int] | None = None) -> None:
        last: dict[UUID, int] = {}
        for event in committed:
            last[event.job_id] = max(event.id, last.get(event.job_id, 0))
        if not last:
            return
        if follows:
            self._hand_over(committed, follows)
        # Jobs watched here whose events could not be handed over: the reader reads them, woken by
        # an entry on its control stream in the same round trip (never through the inbox).
        stale = [
            job_id
            for job_id, event_id in last.items()
            if (watch := self._watches.get(job_id)) is not None and watch.known and watch.last < event_id
        ]
        # A new job's watch is registered with its first announcement, written before the commit's
        # bus messages (``outbox.announce``), which lead any other process to commit the job.
        registering = [job_id for job_id in last if (w := self._watches.get(job_id)) and not w.registered]
        keys = [self._changes, *(self._watchers(job_id) for job_id in last)]
        args: list[Any] = [self.id, self._boxes, self._maxlen, self._ttl_s, ",".join(map(str, last))]
        for job_id, event_id in last.items():
            args += [str(job_id), event_id]
        commands: list[Command] = [*self._registrations(registering), _ANNOUNCE_SCRIPT.call(keys, args)]
        commands += self._leaving()
        if stale:
            self._stale.update(stale)
            commands += self._wake_commands()
        try:
            replies = await run_all(self._out, commands)
            raise_errors(replies)
            for job_id in registering:
                if (watch := self._watches.get(job_id)) is not None:
                    watch.registered = True
        except RETRYABLE as exc:
            # The events are committed; readers pick them up on their next sweep, which also
            # registers again what was not.
            self._reregister = self._reregister or bool(registering)
            log.warning("feed: could not announce events (%s)", exc)

    def _registrations(self, job_ids: Sequence[UUID]) -> list[Command]:
        if not job_ids:
            return []
        keys = [self._watchers(job_id) for job_id in job_ids]
        return [_REGISTER_SCRIPT.call(keys, [self.id, self._watch_ms, self._ttl_s])]

    def _leaving(self) -> list[Command]:
        """Take this process out of the watcher sets of the jobs no longer watched here (they go with
        the next announcement or registration: no round trip of their own)."""
        gone = [job_id for job_id in self._left if job_id not in self._watches]
        self._left.clear()
        return [("ZREM", self._watchers(job_id), self.id) for job_id in gone]

    def _wake_commands(self) -> list[Command]:
        """An entry on this process's control stream: its reader wakes."""
        return [
            ("XADD", self._control, "MAXLEN", "~", 10, "*", "wake", "1"),
            ("EXPIRE", self._control, self._ttl_s),
        ]

    def _hand_over(self, committed: Sequence[Event], follows: Mapping[UUID, int]) -> None:
        """Offer committed events to this process's subscribers of their job, where they follow
        exactly the last event those were handed (else the reader reads them, as for any process)."""
        for job_id, job_events in by_job(committed).items():
            watch = self._watches.get(job_id)
            if watch is None or not watch.known or follows.get(job_id) != watch.last:
                continue
            job_events.sort(key=lambda e: e.id)
            if len(watch.subs) == 1 and self._after_write is not None:
                self._after_write.append((next(iter(watch.subs)), job_events))
            else:
                for sub in list(watch.subs):
                    sub.offer_all(job_events)
            watch.last = job_events[-1].id

    async def subscribe(self, job_id: UUID, *, new: bool = False) -> Subscription:
        sub = Subscription(job_id)
        watch = self._watches.get(job_id)
        if watch is None and new:
            # A job about to be stored has no events yet: its committer hands over the first ones
            # (``follows`` 0), and registers the watch with their announcement. That goes to Redis
            # before the job's first bus message (the same commit's, sent after it), and another
            # process commits the job only once that message is handled: so it is told.
            watch = self._watches[job_id] = _Watch()
            watch.ready.set_result(None)
            self._start_reader()
        elif watch is None:
            # The first subscriber of a job here registers the watch, then reads where its events
            # stand: a commit after that read is announced here. Those who arrive meanwhile (a page
            # opened by many at once) wait for that one read instead of each making their own.
            watch = self._watches[job_id] = _Watch()
            try:
                await self._register([job_id])
                rows = await self._reads.run(
                    functools.partial(fetch_all, stmt=_LAST_ID, params={"job_id": job_id})
                )
                watch.last = rows[0].last or 0
            except BaseException as exc:
                if self._watches.get(job_id) is watch:
                    del self._watches[job_id]
                    self._left.add(job_id)
                watch.ready.set_exception(exc)
                watch.ready.exception()  # retrieved: no "never retrieved" warning when nobody waited
                raise
            watch.ready.set_result(None)
            self._start_reader()
        else:
            await asyncio.shield(watch.ready)
        watch.subs.add(sub)
        return sub

    async def _register(self, job_ids: Sequence[UUID]) -> int:
        """Register (or renew) the watches of ``job_ids``; returns how many of them were not in their
        watcher sets before (Redis lost them), or all of them when Redis refused: then none is (the
        reader reads the database meanwhile), and all are tried again later."""
        watches = [w for job_id in job_ids if (w := self._watches.get(job_id)) is not None]
        commands = [*self._registrations(job_ids), *self._leaving()]
        if not commands:
            return 0
        try:
            replies = await run_all(self._out, commands)
            raise_errors(replies)
        except (*RETRYABLE, ResponseError) as exc:  # (an error reply: Redis out of memory, say)
            log.warning("feed: could not register watched jobs (%s); reading the database meanwhile", exc)
            self._reregister = True
            return len(job_ids)
        for watch in watches:
            watch.registered = True
        return int(replies[0]) if job_ids else 0

    def unsubscribe(self, sub: Subscription) -> None:
        watch = self._watches.get(sub.job_id)
        if watch is not None:
            watch.subs.discard(sub)
            if not watch.subs:
                del self._watches[sub.job_id]
                self._left.add(sub.job_id)

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
        await self._wake_reader()  # its next read includes the jobs-changed stream
        return board

    def unwatch_jobs(self, changes: JobChanges) -> None:
        self._boards.discard(changes)

    def _start_reader(self) -> bool:
        """Start the reader if it is not running; False if it was."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="feed-reader")
            return True
        return False

    async def _wake_reader(self) -> None:
        if self._start_reader():
            return
        # On the way of a client connecting: one round trip, on the announcements' connection.
        with contextlib.suppress(*RETRYABLE):  # without Redis the reader sweeps on its own
            raise_errors(await self._out.execute(self._wake_commands()))

    async def _read(self) -> None:
        next_sweep = time.monotonic() + self._sweep_s
        while self._watches or self._boards:
            streams: dict[Any, Any] = {
                self._inbox: self._inbox_position,
                self._control: self._control_position,
            }
            if self._boards:
                streams[self._changes] = self._changes_position
            woken: set[UUID] = set()
            changed: set[UUID] = set()
            answered = True
            try:
                read = ("XREAD", "COUNT", 100, "BLOCK", int(self._sweep_s * 1000), "STREAMS", *streams)
                (reply,) = await self._in.execute([(*read, *streams.values())], blocking_s=self._sweep_s)
                if isinstance(reply, ResponseError):
                    raise reply
            except (*RETRYABLE, ResponseError) as exc:
                if self._closed:
                    return
                log.warning("feed: redis unavailable (%s); reading the database instead", exc)
                await asyncio.sleep(1.0)
                reply, woken, answered = None, set(self._watches), False
                self._reregister = True  # Redis may have come back without the registrations
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
                elif key == self._inbox:
                    self._inbox_position = position
                    woken |= self._told(entries)
            woken |= self._stale
            self._stale.clear()
            if self._reregister and answered:
                # Registered again first, then read: a commit after the registration is announced.
                self._reregister = False
                if await self._register(list(self._watches)):
                    woken |= set(self._watches)
            if time.monotonic() >= next_sweep:  # a safety net for an announcement that was lost
                await self._register(list(self._watches))  # renewed, or made again if Redis lost them
                woken, next_sweep = set(self._watches), time.monotonic() + self._sweep_s
                self._tell_boards(everything=True)
            if changed:
                self._tell_boards(changed)
            for job_id in woken:
                await self._fan_out(job_id)

    def _told(self, entries: Any) -> set[UUID]:
        """The watched jobs an inbox's ``entries`` announce events of that were not handed out yet
        (every watched job if one cannot be read)."""
        woken: set[UUID] = set()
        for _, fields in entries:
            try:
                job_id, event_id = UUID(fields[b"job"].decode()), int(fields[b"id"])
            except (KeyError, ValueError, AttributeError):
                return set(self._watches)
            watch = self._watches.get(job_id)
            if watch is not None and watch.known and event_id > watch.last:
                woken.add(job_id)
        return woken

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
        gone = list(self._watches)
        self._watches.clear()
        self._boards.clear()
        if gone:  # the other processes stop announcing to this one now, not when the watches lapse
            with contextlib.suppress(*RETRYABLE, asyncio.TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._out.execute([("ZREM", self._watchers(job_id), self.id) for job_id in gone])
        if self._own_out:
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


async def _page(conn: AsyncConnection, *, job_id: UUID, after: int) -> list[Event]:
    return await events_after(conn, job_id, after, limit=PAGE)

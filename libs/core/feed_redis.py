"""Live events across API replicas: a per-job Redis stream announces commits; Postgres has the events.

Each API process keeps one tail per watched job, however many SSE clients watch it. A tail wakes
when the job's Redis stream grows (or every ``wake_timeout_s`` as a safety net) and reads the events
after the last one it handed out from the database, in id order. Reading the database rather than
trusting the Redis entries keeps the stream gap-free even when two replicas publish out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from planwright.core import names
from planwright.core.bus.redis import RETRYABLE
from planwright.core.db.eventlog import events_after
from planwright.core.db.schema import events
from planwright.core.events import Event
from planwright.core.feed import Subscription

log = logging.getLogger(__name__)


class _Tail:
    def __init__(self, feed: RedisFeed, job_id: UUID) -> None:
        self.feed = feed
        self.job_id = job_id
        self.subs: set[Subscription] = set()
        self.ready = asyncio.Event()
        self.last = 0
        self.task = asyncio.create_task(self.run(), name=f"feed-tail-{job_id}")

    async def run(self) -> None:
        async with self.feed.engine.connect() as conn:
            query = sa.select(sa.func.max(events.c.id)).where(events.c.job_id == self.job_id)
            self.last = (await conn.execute(query)).scalar() or 0
        self.ready.set()
        key = self.feed.key(self.job_id)
        position = "0-0"
        while True:
            try:
                reply: Any = await self.feed.redis.xread({key: position}, count=100, block=self.feed.wake_ms)
                if reply:
                    position = reply[0][1][-1][0]
            except RETRYABLE as exc:
                log.warning("feed: redis unavailable (%s); reading the database instead", exc)
                await asyncio.sleep(1.0)
            try:
                await self._fan_out()
            except Exception:
                log.exception("feed: reading events of job %s failed", self.job_id)
                await asyncio.sleep(1.0)

    async def _fan_out(self) -> None:
        while True:
            async with self.feed.engine.connect() as conn:
                page = await events_after(conn, self.job_id, self.last, limit=500)
            for event in page:
                for sub in list(self.subs):
                    sub.offer(event)
                self.last = event.id
            if len(page) < 500:
                return


class RedisFeed:
    def __init__(
        self,
        client: aioredis.Redis,
        engine: AsyncEngine,
        *,
        prefix: str = "",
        wake_timeout_s: float = 15.0,
        stream_maxlen: int = 1000,
        ttl_s: int = 86_400,
    ) -> None:
        self.redis = client
        self.engine = engine
        self.prefix = prefix
        self.wake_ms = int(wake_timeout_s * 1000)
        self._maxlen = stream_maxlen
        self._ttl_s = ttl_s
        self._tails: dict[UUID, _Tail] = {}

    def key(self, job_id: UUID) -> str:
        return f"{self.prefix}{names.job_events_stream(job_id)}"

    async def publish(self, committed: Sequence[Event]) -> None:
        last: dict[UUID, int] = {}
        for event in committed:
            last[event.job_id] = event.id
        if not last:
            return
        pipe = self.redis.pipeline(transaction=False)
        for job_id, event_id in last.items():
            pipe.xadd(self.key(job_id), {"id": str(event_id)}, maxlen=self._maxlen, approximate=True)
            pipe.expire(self.key(job_id), self._ttl_s)
        try:
            await pipe.execute()
        except RETRYABLE as exc:
            # The events are committed; tails pick them up on their next safety-net wake.
            log.warning("feed: could not announce events (%s)", exc)

    async def subscribe(self, job_id: UUID) -> Subscription:
        tail = self._tails.get(job_id)
        if tail is None:
            tail = self._tails[job_id] = _Tail(self, job_id)
        sub = Subscription(job_id)
        tail.subs.add(sub)
        await tail.ready.wait()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        tail = self._tails.get(sub.job_id)
        if tail is None:
            return
        tail.subs.discard(sub)
        if not tail.subs:
            tail.task.cancel()
            del self._tails[sub.job_id]

    def subscriber_count(self) -> int:
        return sum(len(t.subs) for t in self._tails.values())

    async def close(self) -> None:
        for tail in self._tails.values():
            tail.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tail.task
        self._tails.clear()

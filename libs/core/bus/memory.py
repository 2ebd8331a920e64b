"""An in-process bus with the same semantics as the Redis Streams one: groups, acks, redelivery."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from planwright.core import metrics
from planwright.core.bus.base import Acks, Delivery
from planwright.core.messages import Message
from planwright.core.metrics import StreamStat

log = logging.getLogger(__name__)
DEAD_MAX = 10_000


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    deliveries: int


@dataclass(slots=True)
class _Group:
    cursor: int = 0  # absolute id of the next entry this group has not seen
    pending: dict[int, _Pending] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    entries: list[Message] = field(default_factory=list)
    base: int = 0  # absolute id of entries[0]; entries below it were trimmed
    groups: dict[str, _Group] = field(default_factory=dict)

    def get(self, abs_id: int) -> Message:
        return self.entries[abs_id - self.base]

    @property
    def end(self) -> int:
        return self.base + len(self.entries)

    def trim(self) -> None:
        """Drop entries that every group has seen and acked, so memory stays bounded."""
        if not self.groups:
            return
        floor = min(min(g.pending, default=g.cursor) for g in self.groups.values())
        floor = min(floor, *(g.cursor for g in self.groups.values()))
        if floor > self.base:
            del self.entries[: floor - self.base]
            self.base = floor


class MemoryBus:
    """The embedded-mode bus. A group created late still sees every entry not yet trimmed."""

    def __init__(self, *, visibility_timeout_s: float = 120.0) -> None:
        self._streams: dict[str, _Stream] = {}
        self._visibility = visibility_timeout_s
        # Readers blocked on a stream: a publish wakes only those waiting on its stream.
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._closed = False
        self._epoch_seen = False
        # The dead-letter "stream" (the newest DEAD_MAX of each kind, as Redis caps pw:dead).
        self.dead: list[tuple[Delivery, str]] = []
        self.dead_payloads: list[tuple[str, str, bytes, str]] = []  # (stream, where, payload, reason)

    def _stream(self, name: str) -> _Stream:
        return self._streams.setdefault(name, _Stream())

    async def publish(self, stream: str, messages: Sequence[Message], *, ack: Acks | None = None) -> None:
        # One step, as the Redis bus's script: nothing else runs between the entries and the acks (ack
        # never awaits), so a worker's published result and the end of its delivery go together.
        if messages:
            self._stream(stream).entries.extend(messages)
            self._wake(stream)
        if ack is not None:
            await self.ack(*ack)

    def _wake(self, *streams: str) -> None:
        for name in streams:
            for waiter in self._waiters.pop(name, ()):
                if not waiter.done():
                    waiter.set_result(None)

    async def read(
        self,
        streams: Sequence[str],
        group: str,
        consumer: str,
        *,
        count: int,
        block_s: float,
        ack: Sequence[Delivery] = (),
    ) -> list[Delivery]:
        if ack:
            await self.ack(group, ack)
        deadline = time.monotonic() + block_s
        while True:
            out = self._take(streams, group, consumer, count)
            remaining = deadline - time.monotonic()
            if out or remaining <= 0 or self._closed:
                return out
            waiter = asyncio.get_running_loop().create_future()
            for name in streams:
                self._waiters.setdefault(name, set()).add(waiter)
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await waiter
            finally:
                for name in streams:
                    self._waiters.get(name, set()).discard(waiter)

    def _take(self, streams: Sequence[str], group: str, consumer: str, count: int) -> list[Delivery]:
        now = time.monotonic()
        out: list[Delivery] = []
        for name in streams:
            s = self._stream(name)
            g = s.groups.setdefault(group, _Group(cursor=s.base))
            for abs_id, p in g.pending.items():
                if len(out) >= count:
                    return out
                if now - p.delivered_at >= self._visibility:
                    metrics.MESSAGES_RECLAIMED.labels(name).inc()
                    p.consumer, p.delivered_at, p.deliveries = consumer, now, p.deliveries + 1
                    out.append(Delivery(name, str(abs_id), s.get(abs_id), p.deliveries))
        for name in streams:
            s = self._streams[name]
            g = s.groups[group]
            while g.cursor < s.end and len(out) < count:
                abs_id = g.cursor
                g.cursor += 1
                g.pending[abs_id] = _Pending(consumer, now, 1)
                out.append(Delivery(name, str(abs_id), s.get(abs_id), 1))
        return out

    async def ack(self, group: str, deliveries: Sequence[Delivery]) -> None:
        touched: set[str] = set()
        for d in deliveries:
            s = self._streams.get(d.stream)
            if s is not None and group in s.groups:
                s.groups[group].pending.pop(int(d.id), None)
                touched.add(d.stream)
        for name in touched:
            self._streams[name].trim()

    def _pending(self, group: str, deliveries: Sequence[Delivery]) -> list[_Pending]:
        found = []
        for d in deliveries:
            s = self._streams.get(d.stream)
            g = s.groups.get(group) if s else None
            if g is not None and int(d.id) in g.pending:
                found.append(g.pending[int(d.id)])
        return found

    async def touch(self, group: str, consumer: str, deliveries: Sequence[Delivery]) -> None:
        for p in self._pending(group, deliveries):
            p.consumer, p.delivered_at = consumer, time.monotonic()

    async def release(self, group: str, consumer: str, deliveries: Sequence[Delivery]) -> None:
        for p in self._pending(group, deliveries):
            p.delivered_at = time.monotonic() - self._visibility
        self._wake(*{d.stream for d in deliveries})

    async def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        log.error("dead-lettered %s %s for %s: %s", delivery.stream, delivery.id, group, reason)
        metrics.MESSAGES_DEAD_LETTERED.labels(delivery.stream).inc()
        self.dead.append((delivery, reason))
        del self.dead[:-DEAD_MAX]
        await self.ack(group, [delivery])

    async def dead_letter_payload(self, stream: str, entry_id: str, payload: bytes, reason: str) -> None:
        # The process's log is where these outlive it (the list dies with the process).
        log.error("dead-lettered %s %s for outbox: %s (payload: %r)", stream, entry_id, reason, payload[:200])
        metrics.MESSAGES_DEAD_LETTERED.labels(stream).inc()
        self.dead_payloads.append((stream, entry_id, payload, reason))
        del self.dead_payloads[:-DEAD_MAX]

    async def fresh_epoch(self) -> bool:
        fresh, self._epoch_seen = not self._epoch_seen, True
        return fresh

    async def stats(self, streams: Sequence[str]) -> list[StreamStat]:
        """Length, and each group's lag and pending count, of ``streams`` (for metrics)."""
        out: list[StreamStat] = []
        for name in streams:
            s = self._streams.get(name)
            if s is None:
                out.append(StreamStat(name, 0))
                continue
            out.append(StreamStat(name, len(s.entries)))
            out.extend(
                StreamStat(name, len(s.entries), g, s.end - grp.cursor, len(grp.pending))
                for g, grp in s.groups.items()
            )
        return out

    async def backlog(self, stream: str) -> int:
        """Entries still held for ``stream`` (for tests and metrics)."""
        s = self._streams.get(stream)
        return len(s.entries) if s else 0

    async def close(self) -> None:
        """Wake every blocked reader; reads return at once from now on."""
        self._closed = True
        self._wake(*list(self._waiters))

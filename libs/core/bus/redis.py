"""The distributed bus: Redis Streams with consumer groups.

One stream per kind of work, one group per consuming service. Entries are XACKed only after the
handler's effects are durable; entries idle past the visibility timeout are taken over with
XAUTOCLAIM; workers heartbeat long tasks with XCLAIM JUSTID so a live task is never stolen.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from planwright.core import metrics, names
from planwright.core.bus.base import Acks, Delivery
from planwright.core.bus.resp import Command, RespConnection, Script
from planwright.core.consumer import failure_for_payload, undecodable
from planwright.core.messages import Message, decode, encode
from planwright.core.metrics import StreamStat

log = logging.getLogger(__name__)
T = TypeVar("T")

FIELD = b"m"
RETRYABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBus:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "",
        visibility_timeout_s: float = 120.0,
        trim_every_s: float = 5.0,
        reclaim_every_s: float = 1.0,
        retry_for_s: float = 10.0,
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self._visibility_ms = int(visibility_timeout_s * 1000)
        self._trim_every_s = trim_every_s
        self._reclaim_every_s = reclaim_every_s
        self._retry_for_s = retry_for_s
        self._groups: set[tuple[str, str]] = set()
        self._last_reclaim: dict[tuple[str, str], float] = {}
        self._reclaim_from: dict[tuple[str, str], Any] = {}
        self._last_trim: dict[str, float] = {}
        self._read_in_order = Script(_READ_IN_ORDER)
        self._publish_and_ack = Script(_PUBLISH_AND_ACK)
        # The hot path (publish, read, ack) on held lean connections (resp.py): one for what does
        # not block, and one per concurrent reader, as a blocking read holds its connection.
        name = client.connection_pool.connection_kwargs.get("client_name") or "planwright-bus"
        self._out = RespConnection.like(client, name)
        self._closed = False
        self._readers: list[RespConnection] = []  # free ones
        self._all_readers: list[RespConnection] = []

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisBus:
        return cls(
            aioredis.Redis.from_url(url, health_check_interval=30, client_name="planwright-bus"), **kwargs
        )

    def key(self, stream: str) -> str:
        return f"{self.prefix}{stream}"

    async def _retry(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run ``op``, riding out a Redis restart for up to ``retry_for_s`` with backoff."""
        deadline = time.monotonic() + self._retry_for_s
        delay = 0.05
        while True:
            try:
                return await op()
            except RETRYABLE:
                if self._closed or time.monotonic() + delay > deadline:
                    raise
                log.warning("redis unavailable; retrying in %.2fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
                self._groups.clear()  # the stream or group vanished (FLUSHALL): create them again
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- publishing -----------------------------------------------------------------------------

    async def publish(self, stream: str, messages: Sequence[Message], *, ack: Acks | None = None) -> None:
        if not messages and not ack:
            return
        key = self.key(stream)
        payloads = [encode(m) for m in messages]
        group, acks = (ack[0], self._ids_by_key(ack[1])) if ack else ("", {})

        async def op() -> None:
            if len(payloads) == 1 and not acks:  # one command
                await self._out.call("XADD", key, "*", FIELD, payloads[0])
                return
            # Several entries and the acks in one script, atomic as a MULTI/EXEC: a reader blocked on
            # the stream is served once, after all of them are there, so a worker's start, progress
            # and result are one batch downstream, and the result and the end of its task one step.
            # (One command to pack and one reply to parse, where MULTI/EXEC has one per part.)
            args: list[Any] = [FIELD, len(payloads), *payloads, group]
            for ids in acks.values():
                args += [len(ids), *ids]
            await self._publish_and_ack.run(self._out, [key, *acks], args)

        await self._retry(op)
        for ack_key in acks:
            await self._maybe_trim(ack_key)

    # -- consuming ------------------------------------------------------------------------------

    async def _ensure_group(self, key: str, group: str) -> None:
        if (key, group) in self._groups:
            return
        try:
            await self.redis.xgroup_create(key, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((key, group))

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
        keys = [self.key(s) for s in streams]
        acks = self._ids_by_key(ack)

        async def op(conn: RespConnection) -> list[Delivery]:
            for key in keys:
                await self._ensure_group(key, group)
            out = await self._reclaim(streams, keys, group, consumer, count)
            # Higher lanes first: a non-blocking look at each stream in order, in one round trip...
            if len(keys) > 1 and len(out) < count:
                await self._send_acks(group, acks, conn)  # (a script after acks: one write, two replies)
                reply = await self._read_in_order.run(conn, keys, [group, consumer, count - len(out)])
                out += await self._deliveries(reply, streams, keys, group)
            if out:
                await self._send_acks(group, acks, conn)
                return out
            # ...then wait on all of them at once, the acks going first in the same round trip.
            block = max(1, int(block_s * 1000))
            read: Command = (
                "XREADGROUP", "GROUP", group, consumer, "COUNT", count, "BLOCK", block,
                "STREAMS", *keys, *[">"] * len(keys),
            )  # fmt: skip
            results = await conn.execute([*_xacks(group, acks), read], blocking_s=block_s)
            raise_errors(results[:-1], tolerate="NOGROUP")
            raise_errors(results[-1:])
            acks.clear()
            return await self._deliveries(results[-1], streams, keys, group)

        # A blocking read holds its connection: each concurrent reader takes one of its own.
        if self._readers:
            conn = self._readers.pop()
        else:
            conn = RespConnection(self._out.endpoint, self._out.client_name)
            self._all_readers.append(conn)
        try:
            out = await self._retry(lambda: op(conn))
        finally:
            self._readers.append(conn)
        for ack_key in self._ids_by_key(ack):
            await self._maybe_trim(ack_key)
        return out

    def _ids_by_key(self, deliveries: Sequence[Delivery]) -> dict[str, list[str]]:
        by_key: dict[str, list[str]] = {}
        for d in deliveries:
            by_key.setdefault(self.key(d.stream), []).append(d.id)
        return by_key

    async def _send_acks(
        self, group: str, acks: dict[str, list[str]], conn: RespConnection | None = None
    ) -> None:
        """XACK what ``acks`` holds (by key), in one round trip, and forget it."""
        if not acks:
            return
        # A group that vanished (FLUSHALL) holds nothing to ack: not an error.
        raise_errors(await (conn or self._out).execute(_xacks(group, acks)), tolerate="NOGROUP")
        acks.clear()

    async def _deliveries(
        self, reply: Any, streams: Sequence[str], keys: Sequence[str], group: str
    ) -> list[Delivery]:
        """An XREADGROUP-shaped reply ``[[key, [[id, fields], ...]], ...]`` as deliveries, in key order."""
        by_key: dict[str, Any] = {
            k.decode() if isinstance(k, bytes) else k: _fields(entries) for k, entries in reply or []
        }
        out: list[Delivery] = []
        for stream, key in zip(streams, keys, strict=True):
            for entry_id, fields in by_key.get(key, []):
                delivery = await self._decode(stream, key, group, entry_id, fields, 1)
                if delivery is not None:
                    out.append(delivery)
        return out

    async def _reclaim(
        self, streams: Sequence[str], keys: Sequence[str], group: str, consumer: str, count: int
    ) -> list[Delivery]:
        """Take over entries idle past the visibility timeout (their consumer died or hung)."""
        now = time.monotonic()
        out: list[Delivery] = []
        for stream, key in zip(streams, keys, strict=True):
            # Scanning the pending list costs a round trip; about once a second per stream is plenty.
            if now - self._last_reclaim.get((key, group), 0.0) < self._reclaim_every_s or len(out) >= count:
                continue
            self._last_reclaim[(key, group)] = now
            # Each scan continues where the last one stopped, so a long pending list is covered in turn.
            start = self._reclaim_from.get((key, group), "0-0")
            reply: Any = await self.redis.xautoclaim(
                key, group, consumer, self._visibility_ms, start, count=count - len(out)
            )
            self._reclaim_from[(key, group)] = reply[0]
            claimed = [(i, f) for i, f in reply[1] if f]
            if not claimed:
                continue
            metrics.MESSAGES_RECLAIMED.labels(stream).inc(len(claimed))
            counts = await self._delivery_counts(key, group, consumer, [i for i, _ in claimed])
            for entry_id, fields in claimed:
                delivery = await self._decode(stream, key, group, entry_id, fields, counts.get(entry_id, 2))
                if delivery is not None:
                    out.append(delivery)
        return out

    async def _delivery_counts(
        self, key: str, group: str, consumer: str, ids: list[bytes]
    ) -> dict[bytes, int]:
        lo, hi = min(ids, key=_id_order), max(ids, key=_id_order)
        rows: Any = await self.redis.xpending_range(
            key, group, min=lo, max=hi, count=len(ids) * 4, consumername=consumer
        )
        return {r["message_id"]: int(r["times_delivered"]) for r in rows}

    async def _decode(
        self, stream: str, key: str, group: str, entry_id: bytes, fields: dict[bytes, bytes], deliveries: int
    ) -> Delivery | None:
        raw = fields.get(FIELD, b"")
        try:
            message = decode(raw)
        except Exception as exc:  # ValidationError, or whatever else a hostile payload makes of it
            # A poison entry: no consumer can ever handle it, so it goes straight to the dead letters,
            # and the work it names (if it names any) fails rather than waits forever.
            reason = undecodable(exc)
            failure = failure_for_payload(raw, f"{reason} (a message on {stream}; dead-lettered)")
            if failure is not None:
                await self.publish(names.ORCHESTRATOR, [failure])
            await self._dead(key, group, entry_id, raw, reason)
            return None
        return Delivery(stream, entry_id.decode(), message, deliveries)

    async def ack(self, group: str, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        by_key = self._ids_by_key(deliveries)
        await self._retry(lambda: self._send_acks(group, dict(by_key)))
        for key in by_key:
            await self._maybe_trim(key)

    async def touch(self, group: str, consumer: str, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            await self._retry(
                lambda d=d: self.redis.xclaim(self.key(d.stream), group, consumer, 0, [d.id], justid=True)  # type: ignore[misc]
            )

    async def release(self, group: str, consumer: str, deliveries: Sequence[Delivery]) -> None:
        # Claim them with an idle time past the timeout: the next reader of the group reclaims them.
        for d in deliveries:
            await self._retry(
                lambda d=d: self.redis.xclaim(  # type: ignore[misc]
                    self.key(d.stream), group, consumer, 0, [d.id], idle=self._visibility_ms + 1, justid=True
                )
            )

    async def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        key = self.key(delivery.stream)
        await self._dead(key, group, delivery.id.encode(), encode(delivery.message), reason)

    async def dead_letter_payload(self, stream: str, entry_id: str, payload: bytes, reason: str) -> None:
        await self._keep_dead(self.key(stream), "outbox", entry_id.encode(), payload, reason)

    async def _dead(self, key: str, group: str, entry_id: bytes, payload: bytes, reason: str) -> None:
        await self._keep_dead(key, group, entry_id, payload, reason)
        await self.redis.xack(key, group, entry_id)

    async def _keep_dead(self, key: str, group: str, entry_id: bytes, payload: bytes, reason: str) -> None:
        fields: dict[Any, Any] = {
            "stream": key,
            "id": entry_id,
            "group": group,
            "reason": reason,
            FIELD: payload,
        }
        log.error("dead-lettered %s %s for %s: %s", key, entry_id.decode(), group, reason)
        metrics.MESSAGES_DEAD_LETTERED.labels(key.removeprefix(self.prefix)).inc()
        await self.redis.xadd(self.key(names.DEAD_LETTER), fields, maxlen=10_000, approximate=True)

    async def _maybe_trim(self, key: str) -> None:
        """Drop entries every group has acked, so memory stays bounded without losing work."""
        now = time.monotonic()
        if now - self._last_trim.get(key, 0.0) < self._trim_every_s:
            return
        self._last_trim[key] = now
        try:
            floor: bytes | None = None
            for info in await self.redis.xinfo_groups(key):
                candidates = [info["last-delivered-id"]]
                if info["pending"]:
                    summary = await self.redis.xpending(key, info["name"])
                    candidates.append(summary["min"])
                low = min(candidates, key=_id_order)
                floor = low if floor is None else min(floor, low, key=_id_order)
            if floor is not None:
                await self.redis.xtrim(key, minid=floor, approximate=False)
        except RETRYABLE:
            return  # trimming is housekeeping; the next ack tries again

    async def backlog(self, stream: str) -> int:
        """Entries still held for ``stream`` (for tests and metrics)."""
        return int(await self.redis.xlen(self.key(stream)))

    async def stats(self, streams: Sequence[str]) -> list[StreamStat]:
        """Length, and each group's lag and pending count, of ``streams`` (for metrics)."""
        out: list[StreamStat] = []
        for stream in streams:
            key = self.key(stream)
            length = int(await self.redis.xlen(key))
            groups: Any = await self.redis.xinfo_groups(key) if length or await self.redis.exists(key) else []
            out.append(StreamStat(stream, length))
            for info in groups:
                name = info["name"].decode() if isinstance(info["name"], bytes) else str(info["name"])
                lag = info.get("lag")
                out.append(
                    StreamStat(stream, length, name, None if lag is None else int(lag), int(info["pending"]))
                )
        return out

    async def fresh_epoch(self) -> bool:
        key = self.key(names.EPOCH)
        return bool(await self._retry(lambda: self.redis.set(key, uuid.uuid4().hex, nx=True)))

    async def close(self) -> None:
        self._closed = True
        self._out.close()
        for conn in self._all_readers:  # a read blocked now ends with a ConnectionError
            conn.close()
        await self.redis.aclose()


# Up to ARGV[3] new entries for group ARGV[1], consumer ARGV[2], taken from KEYS in order (priority
# lanes): one round trip instead of one per lane. The reply has XREADGROUP's shape.
_READ_IN_ORDER = """
local out = {}
local n = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  if n <= 0 then break end
  local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', n, 'STREAMS', key, '>')
  if reply then
    n = n - #reply[1][2]
    table.insert(out, reply[1])
  end
end
return out
"""


# Appends ARGV[2] entries (ARGV[3..], each under the field ARGV[1]) to KEYS[1], then, for group
# ARGV[3 + n], acknowledges on each of KEYS[2..] the ids that follow their count in ARGV. A group that
# vanished (FLUSHALL) holds nothing to ack: not an error. Atomic, as a script is.
_PUBLISH_AND_ACK = """
local n = tonumber(ARGV[2])
for i = 1, n do
  redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[2 + i])
end
local at = 3 + n
local group = ARGV[at]
for k = 2, #KEYS do
  local count = tonumber(ARGV[at + 1])
  local ids = {}
  for j = 1, count do
    ids[j] = ARGV[at + 1 + j]
  end
  at = at + 1 + count
  local reply = redis.pcall('XACK', KEYS[k], group, unpack(ids))
  if type(reply) == 'table' and reply.err and not string.find(reply.err, 'NOGROUP', 1, true) then
    return reply
  end
end
return n
"""


def _xacks(group: str, acks: dict[str, list[str]]) -> list[Command]:
    return [("XACK", key, group, *ids) for key, ids in acks.items()]


def raise_errors(results: Sequence[Any], tolerate: str | None = None) -> None:
    """Raise the first error among a pipeline's results (except those naming ``tolerate``)."""
    for result in results:
        if isinstance(result, Exception) and (tolerate is None or tolerate not in str(result)):
            raise result


def _fields(entries: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Entries with their fields as a dict: XREADGROUP gives a dict, a script's reply a flat list."""
    out = []
    for entry_id, fields in entries:
        if isinstance(fields, list):
            fields = dict(zip(fields[::2], fields[1::2], strict=True))
        out.append((entry_id, fields))
    return out


def _id_order(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)

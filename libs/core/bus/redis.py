"""The distributed bus: Redis Streams with consumer groups.

One stream per kind of work, one group per consuming service. Entries are XACKed only after the
handler's effects are durable. Each consumer renews a liveness key while its process runs; the entries
of a consumer whose key expired (it died) are taken over within seconds, and entries idle past the
visibility timeout (a consumer alive but hung) with XAUTOCLAIM. Workers heartbeat long tasks with
XCLAIM JUSTID so a live task is never stolen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from planwright.core import metrics, names, outage
from planwright.core.bus.base import Acks, Delivery
from planwright.core.bus.resp import Command, RespConnection, Script
from planwright.core.consumer import failure_for_payload, undecodable
from planwright.core.messages import Message, decode, encode
from planwright.core.metrics import StreamStat

log = logging.getLogger(__name__)
T = TypeVar("T")

FIELD = b"m"
RETRYABLE = (RedisConnectionError, RedisTimeoutError, OSError)
# Error replies that mean a stream or group vanished (FLUSHALL, a restart without persistence): a
# blocked XREADGROUP is answered UNBLOCKED, later commands NOGROUP, XINFO on the stream "no such key".
# The groups are created again and the call retried.
VANISHED = ("NOGROUP", "UNBLOCKED", "no such key")


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
        consumer_ttl_s: float = 5.0,
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
        self._outage = outage.Outage("bus", "retrying each call for up to 10 s", log)
        self._consumer_ttl_ms = int(consumer_ttl_s * 1000)
        self._consumers: set[str] = set()  # the names this process reads as: their liveness is renewed
        self._keeper: asyncio.Task[None] | None = None
        # (group, consumer, lanes) whose last read blocked and left every lane empty (see ``read``).
        self._emptied: set[tuple[str, str, tuple[str, ...]]] = set()
        self._read_in_order = Script(_READ_IN_ORDER)
        self._reclaim_script = Script(_RECLAIM)
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
                result = await op()
            except RETRYABLE as exc:
                if self._closed or time.monotonic() + delay > deadline:
                    raise
                self._outage.failed(exc, dependency_name="redis")  # (said once per outage)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            except ResponseError as exc:
                if not vanished(exc) or time.monotonic() + delay > deadline:
                    raise
                self._groups.clear()  # the stream or group vanished (FLUSHALL): create them again
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self._outage.recovered()
            return result

    @property
    def connection(self) -> RespConnection:
        """The held connection the bus publishes on. Another part of the process may send commands
        that never block on it too (the live feed's announcements), so that those of one moment
        share a write and a read (``RespConnection.corked``)."""
        return self._out

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
        lanes = (group, consumer, tuple(keys))
        acks = self._ids_by_key(ack)
        if consumer not in self._consumers:
            await self._retry(lambda: self._alive(consumer))

        async def op(conn: RespConnection) -> list[Delivery]:
            async def look(n: int) -> list[Delivery]:
                """Up to ``n`` entries without blocking, each lane in order (one round trip)."""
                reply = await self._read_in_order.run(conn, keys, [group, consumer, n])
                return await self._deliveries(reply, streams, keys, group)

            for key in keys:
                await self._ensure_group(key, group)
            out = await self._reclaim(conn, streams, keys, group, consumer, count)
            want = count - len(out)
            # On several lanes a blocking read takes at most ``per_lane`` from each (its COUNT is per
            # stream), so never more than ``count`` in all once there are as many as lanes.
            per_lane = max(1, want // len(keys))
            # Higher lanes first: a non-blocking look at each stream in order, in one round trip;
            # skipped when this consumer's last read blocked and left every lane empty (each answered
            # with fewer than it asked): whatever came since, the blocking read takes, from each lane.
            if len(keys) > 1 and want > 0 and not (lanes in self._emptied and per_lane > 1):
                await self._send_acks(group, acks, conn)  # (a script after acks: one write, two replies)
                out += await look(want)
            self._emptied.discard(lanes)
            if out:
                await self._send_acks(group, acks, conn)
                return out
            # ...then wait on all of them at once, the acks going first in the same round trip.
            block = max(1, int(block_s * 1000))
            asked = per_lane if len(keys) > 1 else want
            read: Command = (
                "XREADGROUP", "GROUP", group, consumer, "COUNT", asked, "BLOCK", block,
                "STREAMS", *keys, *[">"] * len(keys),
            )  # fmt: skip
            results = await conn.execute([*_xacks(group, acks), read], blocking_s=block_s)
            raise_errors(results[:-1], tolerate="NOGROUP")  # (nothing to ack in a group that vanished)
            raise_errors(results[-1:])
            acks.clear()
            reply = results[-1]
            got = await self._deliveries(reply, streams, keys, group)
            if len(keys) > 1:
                if all(len(entries) < asked for _, entries in reply or []):
                    self._emptied.add(lanes)
                elif len(got) < want:
                    # A lane gave all it was asked for and may hold more (a burst of work): the rest
                    # of the free places now, higher lanes first, so that the burst starts together.
                    got += await look(want - len(got))
                    got.sort(key=lambda d: streams.index(d.stream))  # (stable: each lane in id order)
            return got

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
            k.decode() if isinstance(k, bytes) else k: entry_fields(entries) for k, entries in reply or []
        }
        out: list[Delivery] = []
        for stream, key in zip(streams, keys, strict=True):
            for entry_id, fields in by_key.get(key, []):
                delivery = await self._decode(stream, key, group, entry_id, fields, 1)
                if delivery is not None:
                    out.append(delivery)
        return out

    # -- liveness and takeover ---------------------------------------------------------------

    def _alive_key(self, consumer: str) -> str:
        return self.key(names.ALIVE + consumer)

    async def _alive(self, consumer: str) -> None:
        """Start renewing ``consumer``'s liveness (it is set now, before its first read)."""
        await self._out.call("SET", self._alive_key(consumer), b"1", "PX", self._consumer_ttl_ms)
        self._consumers.add(consumer)
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_alive(), name="bus-liveness")

    async def _keep_alive(self) -> None:
        """Renew every consumer's liveness three times per TTL, whatever its loop is busy with (a
        worker with every slot taken, a planner waiting on a model), so only a dead process expires.
        Never raises: an unreachable Redis is tried again at the next beat."""
        every_s = self._consumer_ttl_ms / 3000
        while True:
            await asyncio.sleep(every_s)
            renew: list[Command] = [
                ("SET", self._alive_key(c), b"1", "PX", self._consumer_ttl_ms) for c in self._consumers
            ]
            try:
                raise_errors(await self._out.execute(renew))
            except Exception as exc:  # (Redis down: the consume loops say so; this is quiet)
                log.debug("bus: renewing consumer liveness failed: %s", exc)

    async def _reclaim(
        self,
        conn: RespConnection,
        streams: Sequence[str],
        keys: Sequence[str],
        group: str,
        consumer: str,
        count: int,
    ) -> list[Delivery]:
        """Take over the entries of consumers that died (their liveness expired) and entries idle past
        the visibility timeout (their consumer hung, or did not acknowledge them), one script per
        stream; the names of dead consumers that hold nothing more are removed from the group."""
        now = time.monotonic()
        out: list[Delivery] = []
        for stream, key in zip(streams, keys, strict=True):
            # A scan costs a round trip; about once a second per stream is plenty.
            if now - self._last_reclaim.get((key, group), 0.0) < self._reclaim_every_s or len(out) >= count:
                continue
            self._last_reclaim[(key, group)] = now
            # Each scan continues where the last one stopped, so a long pending list is covered in turn.
            start = self._reclaim_from.get((key, group), b"0-0")
            args = [group, consumer, self._visibility_ms, start, count - len(out)]
            reply = await self._reclaim_script.run(
                conn, [key], [*args, self.key(names.ALIVE), self._consumer_ttl_ms]
            )
            cursor, entries, dead = reply
            self._reclaim_from[(key, group)] = cursor
            if dead:
                taken = ", ".join(d.decode() if isinstance(d, bytes) else str(d) for d in dead)
                log.warning(
                    "%s: took over the messages of %s (liveness expired: the process died)", group, taken
                )
            if not entries:
                continue
            metrics.MESSAGES_RECLAIMED.labels(stream).inc(len(entries) // 3)
            for i in range(0, len(entries), 3):
                entry_id, fields, deliveries = entries[i : i + 3]
                fields = dict(zip(fields[::2], fields[1::2], strict=True))
                delivery = await self._decode(stream, key, group, entry_id, fields, int(deliveries))
                if delivery is not None:
                    out.append(delivery)
        return out

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
                    if summary["min"] is not None:  # (None: acked since XINFO counted them)
                        candidates.append(summary["min"])
                low = min(candidates, key=_id_order)
                floor = low if floor is None else min(floor, low, key=_id_order)
            if floor is not None:
                await self.redis.xtrim(key, minid=floor, approximate=False)
        except (*RETRYABLE, ResponseError) as exc:
            # Housekeeping: never the caller's failure (the stream may be gone after a FLUSHALL); the
            # next ack tries again.
            log.debug("bus: trimming %s failed: %s", key, exc)

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
        if self._keeper is not None:
            self._keeper.cancel()
        if self._consumers:  # gone: what it left unacked is taken over at once
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._out.call("DEL", *map(self._alive_key, self._consumers)), 2)
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


# Takeover for group ARGV[1] on stream KEYS[1], by consumer ARGV[2], of up to ARGV[5] entries: first
# those of every other consumer whose liveness key (ARGV[6] .. name) has expired, if idle at least
# ARGV[7] ms (so two consumers scanning at once do not take the same entry twice); such a consumer
# that holds nothing is removed from the group. Then, from cursor ARGV[4], entries of any consumer
# idle past the visibility timeout ARGV[3] ms (XAUTOCLAIM). Returns {next cursor, {id, fields,
# deliveries, ...}, {names of dead consumers taken from}}.
_RECLAIM = """
local key, group, me = KEYS[1], ARGV[1], ARGV[2]
local left = tonumber(ARGV[5])
local out, dead = {}, {}
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', key, group)) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info.name ~= me and redis.call('EXISTS', ARGV[6] .. info.name) == 0 then
    if info.pending == 0 then
      redis.call('XGROUP', 'DELCONSUMER', key, group, info.name)
    elseif left > 0 then
      local pending = redis.call('XPENDING', key, group, 'IDLE', ARGV[7], '-', '+', left, info.name)
      for _, p in ipairs(pending) do
        local got = redis.call('XCLAIM', key, group, me, ARGV[7], p[1])
        if got[1] and got[1][2] then
          table.insert(out, got[1][1]); table.insert(out, got[1][2]); table.insert(out, p[4] + 1)
          left = left - 1
        end
      end
      if #pending > 0 then table.insert(dead, info.name) end
    end
  end
end
local cursor = ARGV[4]
if left > 0 then
  local reply = redis.call('XAUTOCLAIM', key, group, me, ARGV[3], cursor, 'COUNT', left)
  cursor = reply[1]
  for _, entry in ipairs(reply[2]) do
    if entry[2] then
      local p = redis.call('XPENDING', key, group, entry[1], entry[1], 1)
      table.insert(out, entry[1]); table.insert(out, entry[2]); table.insert(out, p[1][4])
    end
  end
end
return {cursor, out, dead}
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


def vanished(exc: ResponseError) -> bool:
    """True for an error reply saying a stream or its group is gone (see VANISHED)."""
    return any(reason in str(exc) for reason in VANISHED)


def raise_errors(results: Sequence[Any], tolerate: str | None = None) -> None:
    """Raise the first error among a pipeline's results (except those naming ``tolerate``)."""
    for result in results:
        if isinstance(result, Exception) and (tolerate is None or tolerate not in str(result)):
            raise result


def entry_fields(entries: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
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

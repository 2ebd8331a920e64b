"""The Redis bus under faults: a consumer that dies, a stream that vanishes under a blocked read, a
pending list that empties while it is being trimmed. Real Redis, a key prefix of each test's own."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from planwright.core import names
from planwright.core.bus.redis import RedisBus
from planwright.core.messages import PlanFailed
from tests.isolation import REDIS_URL

TTL_S = 1.0
CEILING_S = 30.0  # a generous ceiling for what should take about TTL_S + a reclaim pass


@pytest.fixture
async def make_bus(redis_client: Redis, key_prefix: str) -> AsyncIterator[Callable[..., RedisBus]]:
    """Buses sharing one prefix, as processes share one Redis; each closed at the end."""
    made: list[RedisBus] = []

    def make(**kwargs: Any) -> RedisBus:
        options = {"visibility_timeout_s": 120.0, "consumer_ttl_s": TTL_S, "reclaim_every_s": 0.0, **kwargs}
        bus = RedisBus(Redis.from_url(REDIS_URL), prefix=key_prefix, **options)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.close()


def msg(n: int) -> PlanFailed:
    return PlanFailed(job_id=uuid.UUID(int=n), reason=str(n))


def crash(bus: RedisBus) -> None:
    """What kill -9 leaves behind: its deliveries unacked, its liveness no longer renewed (not
    deleted, as a clean close does)."""
    assert bus._keeper is not None
    bus._keeper.cancel()
    bus._consumers.clear()


async def read_until_some(bus: RedisBus, consumer: str, what: str) -> tuple[list[Any], float]:
    started = time.monotonic()
    while time.monotonic() - started < CEILING_S:
        got = await bus.read(["s"], "g", consumer, count=10, block_s=0.1)
        if got:
            return got, time.monotonic() - started
    raise AssertionError(f"{consumer} was not given {what} within {CEILING_S:g}s")


async def consumers(redis_client: Redis, bus: RedisBus) -> set[str]:
    return {c["name"].decode() for c in await redis_client.xinfo_consumers(bus.key("s"), "g")}


async def test_a_dead_consumers_messages_are_taken_over_once_its_liveness_expires(make_bus, redis_client):
    dead, alive = make_bus(), make_bus()
    await dead.publish("s", [msg(1), msg(2)])
    taken = await dead.read(["s"], "g", "dead", count=10, block_s=0.01)
    assert len(taken) == 2
    crash(dead)
    # Its liveness key still stands for a while: nothing is taken yet (the visibility timeout is 120 s).
    assert await alive.read(["s"], "g", "alive", count=10, block_s=0.01) == []
    got, after = await read_until_some(alive, "alive", "the dead consumer's messages")
    assert sorted(d.id for d in got) == sorted(d.id for d in taken)
    assert all(d.deliveries == 2 for d in got)  # a takeover counts a delivery, as a reclaim does
    assert after < 120 / 4, f"taken over after {after:.1f}s: the visibility timeout, not the liveness"
    # Once it holds nothing more, the dead consumer's name leaves the group.
    await alive.ack("g", got)
    assert (await alive.read(["s"], "g", "alive", count=10, block_s=0.01)) == []
    assert await consumers(redis_client, alive) == {"alive"}


async def test_a_live_consumer_keeps_its_messages_however_long_it_holds_them(make_bus):
    busy, other = make_bus(), make_bus()
    await busy.publish("s", [msg(1)])
    (taken,) = await busy.read(["s"], "g", "busy", count=1, block_s=0.01)
    deadline = time.monotonic() + 3 * TTL_S  # three lifetimes of the key: renewed all along
    while time.monotonic() < deadline:
        assert await other.read(["s"], "g", "other", count=10, block_s=0.1) == []
    await busy.ack("g", [taken])


async def test_takeover_gives_each_message_to_one_consumer(make_bus):
    dead = make_bus()
    await dead.publish("s", [msg(i) for i in range(20)])
    taken = await dead.read(["s"], "g", "dead", count=20, block_s=0.01)
    crash(dead)
    await asyncio.sleep(TTL_S * 1.5)  # expired: both scan at once now
    first, second = make_bus(), make_bus()
    a, b = await asyncio.gather(
        first.read(["s"], "g", "first", count=20, block_s=0.01),
        second.read(["s"], "g", "second", count=20, block_s=0.01),
    )
    assert sorted(d.id for d in a + b) == sorted(d.id for d in taken)  # each one once


async def test_a_clean_close_ends_the_liveness_at_once(make_bus, redis_client):
    bus = make_bus()
    await bus.read(["s"], "g", "leaving", count=1, block_s=0.01)
    key = bus.key(names.ALIVE + "leaving")
    assert await redis_client.exists(key)
    await bus.close()
    assert not await redis_client.exists(key)


async def test_a_reader_blocked_on_a_stream_that_vanishes_goes_on_reading(make_bus, redis_client):
    """FLUSHALL (here: the stream's key deleted) answers a blocked XREADGROUP with UNBLOCKED: the
    group is created again and the read goes on, without an error."""
    bus = make_bus()
    await bus.read(["s"], "g", "c", count=1, block_s=0.01)  # the group exists
    reader = asyncio.create_task(bus.read(["s"], "g", "c", count=1, block_s=10))
    await asyncio.sleep(0.3)  # blocked in Redis now
    await redis_client.delete(bus.key("s"))
    await asyncio.sleep(0.3)
    await bus.publish("s", [msg(7)])
    got = await asyncio.wait_for(reader, CEILING_S)
    if not got:  # (the read had used up its block before the publish)
        got, _ = await read_until_some(bus, "c", "the message published after the stream vanished")
    assert [d.message.reason for d in got] == ["7"]


async def test_trimming_never_fails_the_caller(make_bus, redis_client, monkeypatch):
    bus = make_bus(trim_every_s=0.0)
    await bus.publish("s", [msg(1), msg(2)])
    got = await bus.read(["s"], "g", "c", count=2, block_s=0.01)
    # The pending entries acked between XINFO (which counted them) and XPENDING: no oldest entry.
    real = bus.redis.xpending

    async def emptied(key: str, group: str) -> Any:
        await bus.redis.xack(key, group, *[d.id for d in got])
        return {**(await real(key, group)), "min": None, "max": None}

    monkeypatch.setattr(bus.redis, "xpending", emptied)
    await bus.ack("g", got[:1])  # trims: the race above, handled
    assert await bus.backlog("s") <= 2
    # The stream gone altogether (FLUSHALL) while acks are in flight: the ack does not fail.
    await redis_client.delete(bus.key("s"))
    await bus.ack("g", got[1:])


async def test_a_stream_that_vanished_between_reads_is_created_again(make_bus, redis_client):
    """After FLUSHALL or a restart without persistence the next read's takeover scan finds no stream
    (XINFO: "no such key"): the group is created again and the read goes on."""
    bus = make_bus()
    await bus.read(["s"], "g", "c", count=1, block_s=0.01)  # the group exists, and the bus knows it
    await redis_client.delete(bus.key("s"))
    assert await bus.read(["s"], "g", "c", count=1, block_s=0.01) == []
    await bus.publish("s", [msg(3)])
    (got,) = await bus.read(["s"], "g", "c", count=1, block_s=0.01)
    assert got.message.reason == "3"

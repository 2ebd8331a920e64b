"""The in-process bus keeps the bus protocol: groups, acks, redelivery, lanes, bounded memory."""

from __future__ import annotations

import asyncio
import uuid

from planwright.core.bus import Delivery, MemoryBus
from planwright.core.messages import PlanFailed


def msg(n: int) -> PlanFailed:
    return PlanFailed(job_id=uuid.UUID(int=n), reason=str(n))


def reason(delivery: Delivery) -> str:
    assert isinstance(delivery.message, PlanFailed)
    return delivery.message.reason


async def test_each_group_gets_every_message_once_in_order():
    bus = MemoryBus()
    await bus.publish("s", [msg(1), msg(2), msg(3)])  # published before either group exists
    reads = {group: await bus.read(["s"], group, "c1", count=10, block_s=0) for group in ("a", "b")}
    for group, got in reads.items():
        assert [reason(d) for d in got] == ["1", "2", "3"]
        assert all(d.deliveries == 1 for d in got)
        await bus.ack(group, got)
        assert await bus.read(["s"], group, "c1", count=10, block_s=0) == []
    assert bus.backlog("s") == 0


async def test_consumers_of_one_group_share_the_work():
    bus = MemoryBus()
    await bus.publish("s", [msg(i) for i in range(4)])
    first = await bus.read(["s"], "g", "c1", count=2, block_s=0)
    second = await bus.read(["s"], "g", "c2", count=10, block_s=0)
    assert {reason(d) for d in first} | {reason(d) for d in second} == {"0", "1", "2", "3"}
    assert not {d.id for d in first} & {d.id for d in second}


async def test_unacked_messages_are_redelivered_after_the_visibility_timeout():
    bus = MemoryBus(visibility_timeout_s=0.05)
    await bus.publish("s", [msg(1)])
    (taken,) = await bus.read(["s"], "g", "crashed", count=1, block_s=0)
    assert await bus.read(["s"], "g", "c2", count=1, block_s=0) == []  # still invisible
    await asyncio.sleep(0.06)
    (again,) = await bus.read(["s"], "g", "c2", count=1, block_s=0)
    assert (again.id, again.deliveries) == (taken.id, 2)
    await bus.ack("g", [again])
    await asyncio.sleep(0.06)
    assert await bus.read(["s"], "g", "c2", count=1, block_s=0) == []


async def test_earlier_streams_are_read_first():
    bus = MemoryBus()
    await bus.publish("low", [msg(1)])
    await bus.publish("high", [msg(2)])
    got = await bus.read(["high", "low"], "g", "c", count=1, block_s=0)
    assert reason(got[0]) == "2"


async def test_a_blocked_reader_wakes_on_publish():
    bus = MemoryBus()
    reader = asyncio.create_task(bus.read(["s"], "g", "c", count=1, block_s=5))
    await asyncio.sleep(0.01)
    await bus.publish("s", [msg(7)])
    got = await asyncio.wait_for(reader, 1)
    assert reason(got[0]) == "7"


async def test_close_releases_blocked_readers():
    bus = MemoryBus()
    reader = asyncio.create_task(bus.read(["s"], "g", "c", count=1, block_s=30))
    await asyncio.sleep(0.01)
    await bus.close()
    assert await asyncio.wait_for(reader, 1) == []


async def test_acked_entries_are_trimmed_so_memory_stays_bounded():
    bus = MemoryBus()
    await bus.read(["s"], "g", "c", count=1, block_s=0)  # create the group
    for _ in range(10):
        await bus.publish("s", [msg(i) for i in range(100)])
        got = await bus.read(["s"], "g", "c", count=1000, block_s=0)
        await bus.ack("g", got)
    assert bus.backlog("s") == 0


async def test_unacked_entries_are_kept():
    bus = MemoryBus()
    await bus.publish("s", [msg(1), msg(2)])
    got = await bus.read(["s"], "g", "c", count=2, block_s=0)
    await bus.ack("g", got[1:])
    assert bus.backlog("s") == 2  # entry 1 is still pending, so nothing before it can go

"""Both buses keep one contract: groups, acks, redelivery, lanes, dead letters, bounded memory.

Every test runs against the in-process bus and against a real Redis (its own key prefix).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from planwright.core.bus import Delivery, MemoryBus
from planwright.core.messages import PlanFailed

VISIBILITY_S = 0.2


@pytest.fixture(params=["memory", "redis"])
def bus(request):
    if request.param == "memory":
        return MemoryBus(visibility_timeout_s=VISIBILITY_S)
    return request.getfixturevalue("redis_bus")


def msg(n: int) -> PlanFailed:
    return PlanFailed(job_id=uuid.UUID(int=n), reason=str(n))


def reason(delivery: Delivery) -> str:
    assert isinstance(delivery.message, PlanFailed)
    return delivery.message.reason


async def test_each_group_gets_every_message_once_in_order(bus):
    await bus.publish("s", [msg(1), msg(2), msg(3)])  # published before either group exists
    reads = {group: await bus.read(["s"], group, "c1", count=10, block_s=0.01) for group in ("a", "b")}
    for group, got in reads.items():
        assert [reason(d) for d in got] == ["1", "2", "3"]
        assert all(d.deliveries == 1 for d in got)
        await bus.ack(group, got)
        assert await bus.read(["s"], group, "c1", count=10, block_s=0.01) == []


async def test_consumers_of_one_group_share_the_work(bus):
    await bus.publish("s", [msg(i) for i in range(4)])
    first = await bus.read(["s"], "g", "c1", count=2, block_s=0.01)
    second = await bus.read(["s"], "g", "c2", count=10, block_s=0.01)
    assert {reason(d) for d in first} | {reason(d) for d in second} == {"0", "1", "2", "3"}
    assert not {d.id for d in first} & {d.id for d in second}


async def test_unacked_messages_are_redelivered_after_the_visibility_timeout(bus):
    await bus.publish("s", [msg(1)])
    (taken,) = await bus.read(["s"], "g", "crashed", count=1, block_s=0.01)
    assert await bus.read(["s"], "g", "c2", count=1, block_s=0.01) == []  # still invisible
    await asyncio.sleep(VISIBILITY_S + 0.05)
    (again,) = await bus.read(["s"], "g", "c2", count=1, block_s=0.01)
    assert (again.id, again.deliveries) == (taken.id, 2)
    await bus.ack("g", [again])
    await asyncio.sleep(VISIBILITY_S + 0.05)
    assert await bus.read(["s"], "g", "c2", count=1, block_s=0.01) == []


async def test_a_heartbeat_keeps_a_live_task_from_being_stolen(bus):
    await bus.publish("s", [msg(1)])
    (taken,) = await bus.read(["s"], "g", "busy", count=1, block_s=0.01)
    for _ in range(4):
        await asyncio.sleep(VISIBILITY_S / 2)
        await bus.touch("g", "busy", [taken])
        assert await bus.read(["s"], "g", "thief", count=1, block_s=0.01) == []


async def test_released_messages_can_be_taken_at_once(bus):
    await bus.publish("s", [msg(1)])
    (taken,) = await bus.read(["s"], "g", "stopping", count=1, block_s=0.01)
    await bus.release("g", "stopping", [taken])
    (again,) = await bus.read(["s"], "g", "other", count=1, block_s=0.01)
    assert again.id == taken.id


@pytest.mark.parametrize("lanes", [["s"], ["s", "other"]])  # one stream, and priority lanes
async def test_a_read_acks_the_previous_batch_first(bus, lanes):
    await bus.publish("s", [msg(1), msg(2)])
    first = await bus.read(lanes, "g", "c", count=1, block_s=0.01)
    second = await bus.read(lanes, "g", "c", count=1, block_s=0.01, ack=first)
    assert [reason(d) for d in first + second] == ["1", "2"]
    assert await bus.read(lanes, "g", "c", count=1, block_s=0.01, ack=second) == []  # acked, nothing new
    await asyncio.sleep(VISIBILITY_S + 0.05)
    assert await bus.read(lanes, "g", "c2", count=10, block_s=0.01) == []  # nothing to redeliver


async def test_a_publish_can_ack_in_the_same_step(bus):
    await bus.publish("work", [msg(1)])
    (task,) = await bus.read(["work"], "w", "c", count=1, block_s=0.01)
    await bus.publish("results", [msg(2)], ack=("w", [task]))
    (result,) = await bus.read(["results"], "o", "c", count=1, block_s=0.01)
    assert reason(result) == "2"
    await asyncio.sleep(VISIBILITY_S + 0.05)
    assert await bus.read(["work"], "w", "c2", count=1, block_s=0.01) == []  # the task was acked


async def test_several_messages_and_acks_on_several_streams_go_in_one_step(bus):
    await bus.publish("lane-a", [msg(1)])
    await bus.publish("lane-b", [msg(2), msg(3)])
    taken = await bus.read(["lane-a", "lane-b"], "w", "c", count=3, block_s=0.01)
    assert [reason(d) for d in taken] == ["1", "2", "3"]
    await bus.publish("results", [msg(4), msg(5), msg(6)], ack=("w", taken))
    got = await bus.read(["results"], "o", "c", count=10, block_s=0.01)
    assert [reason(d) for d in got] == ["4", "5", "6"]  # all of them, in order
    await asyncio.sleep(VISIBILITY_S + 0.05)
    assert await bus.read(["lane-a", "lane-b"], "w", "c2", count=10, block_s=0.01) == []  # all acked


async def test_redis_an_ack_for_a_group_that_vanished_is_not_an_error(redis_bus):
    """After a FLUSHALL the group is gone and holds nothing to ack: the messages still go out."""
    await redis_bus.publish("work", [msg(1)])
    (task,) = await redis_bus.read(["work"], "w", "c", count=1, block_s=0.01)
    await redis_bus.redis.xgroup_destroy(redis_bus.key("work"), "w")
    await redis_bus.publish("results", [msg(2), msg(3)], ack=("w", [task]))
    got = await redis_bus.read(["results"], "o", "c", count=10, block_s=0.01)
    assert [reason(d) for d in got] == ["2", "3"]


async def test_earlier_streams_are_read_first(bus):
    await bus.publish("low", [msg(1)])
    await bus.publish("high", [msg(2)])
    got = await bus.read(["high", "low"], "g", "c", count=1, block_s=0.01)
    assert [reason(d) for d in got] == ["2"]


async def test_redis_a_read_after_one_that_left_every_lane_empty_blocks_without_looking(
    redis_bus, monkeypatch
):
    """The look at each lane in order is skipped when the consumer's last read blocked and left every
    lane empty; what came since is taken by the blocking read, in lane order. A lane that gave all it
    was asked for (a third of the free places) may hold more: the same read then looks for the rest,
    higher lanes first, and the next read looks again."""
    looks: list[int] = []
    look = redis_bus._read_in_order.run

    async def counted(*args, **kwargs):
        looks.append(1)
        return await look(*args, **kwargs)

    monkeypatch.setattr(redis_bus._read_in_order, "run", counted)
    lanes = ["high", "normal", "low"]
    assert await redis_bus.read(lanes, "g", "c", count=8, block_s=0.01) == []
    assert len(looks) == 1  # nothing known of the lanes yet: looked, then blocked (and timed out)

    await redis_bus.publish("low", [msg(1)])
    await redis_bus.publish("high", [msg(2)])
    got = await redis_bus.read(lanes, "g", "c", count=8, block_s=0.01)
    assert [reason(d) for d in got] == ["2", "1"]  # higher lane first
    assert len(looks) == 1  # the last read left every lane empty: no look

    # A burst on the high lane, and one on the low: the blocking read takes 8 // 3 = 2 from each lane
    # at most; the high lane gave both, so the same read looks for the other five free places.
    await redis_bus.publish("high", [msg(n) for n in range(10, 15)])
    await redis_bus.publish("low", [msg(3)])
    got = await redis_bus.read(lanes, "g", "c", count=8, block_s=0.01, ack=got)
    assert [reason(d) for d in got] == ["10", "11", "12", "13", "14", "3"]
    assert len(looks) == 2
    await redis_bus.publish("low", [msg(4)])
    got = await redis_bus.read(lanes, "g", "c", count=8, block_s=0.01, ack=got)
    assert [reason(d) for d in got] == ["4"]
    assert len(looks) == 3  # (the last read did not leave every lane empty)

    # Another consumer of the group, or a read with fewer free places than twice the lanes, looks.
    assert await redis_bus.read(lanes, "g", "other", count=8, block_s=0.01, ack=got) == []
    assert len(looks) == 4
    assert await redis_bus.read(lanes, "g", "c", count=8, block_s=0.01) == []  # (emptied again)
    assert await redis_bus.read(lanes, "g", "c", count=5, block_s=0.01) == []
    assert len(looks) == 6


async def test_a_blocked_reader_wakes_on_publish(bus):
    reader = asyncio.create_task(bus.read(["s"], "g", "c", count=1, block_s=5))
    await asyncio.sleep(0.05)
    await bus.publish("s", [msg(7)])
    got = await asyncio.wait_for(reader, 2)
    assert [reason(d) for d in got] == ["7"]


async def test_dead_lettered_messages_are_acked(bus):
    await bus.publish("s", [msg(1)])
    (taken,) = await bus.read(["s"], "g", "c", count=1, block_s=0.01)
    await bus.dead_letter("g", taken, "gave up")
    await asyncio.sleep(VISIBILITY_S + 0.05)
    assert await bus.read(["s"], "g", "c", count=1, block_s=0.01) == []


async def test_acked_entries_are_trimmed_so_memory_stays_bounded(bus):
    await bus.read(["s"], "g", "c", count=1, block_s=0.01)  # create the group
    for round_ in range(5):
        await bus.publish("s", [msg(i) for i in range(50)])
        got = await bus.read(["s"], "g", "c", count=1000, block_s=0.01)
        assert len(got) == 50, round_
        await bus.ack("g", got)
    await bus.publish("s", [msg(99)])
    await bus.ack("g", await bus.read(["s"], "g", "c", count=10, block_s=0.01))
    assert await bus.backlog("s") <= 1


async def test_unacked_entries_are_kept(bus):
    await bus.publish("s", [msg(1), msg(2)])
    got = await bus.read(["s"], "g", "c", count=2, block_s=0.01)
    await bus.ack("g", got[1:])
    assert await bus.backlog("s") == 2  # entry 1 is still pending, so nothing from it on can go


async def test_fresh_epoch_is_true_once(bus):
    assert await bus.fresh_epoch() is True
    assert await bus.fresh_epoch() is False


async def test_close_releases_blocked_readers():
    bus = MemoryBus()
    reader = asyncio.create_task(bus.read(["s"], "g", "c", count=1, block_s=30))
    await asyncio.sleep(0.01)
    await bus.close()
    assert await asyncio.wait_for(reader, 1) == []


async def test_redis_close_ends_a_blocked_read_at_once(redis_bus):
    reader = asyncio.create_task(redis_bus.read(["s"], "g", "c", count=1, block_s=30))
    await asyncio.sleep(0.2)  # blocked in Redis now
    await redis_bus.close()
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(reader, 5)

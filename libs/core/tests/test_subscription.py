"""A subscription's queue: a deque and one future while its reader waits (``feed.Subscription``)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from planwright.core.events import Event
from planwright.core.feed import Subscription

CEILING_S = 30.0


def _event(job_id: uuid.UUID, event_id: int) -> Event:
    return Event.model_construct(
        id=event_id, job_id=job_id, task_id=None, type="task.progress", data={}, created_at=datetime.now(UTC)
    )


async def test_a_waiting_reader_is_woken_by_an_offer_and_gets_events_in_order():
    sub = Subscription(uuid.uuid4())
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)  # the reader waits on the empty queue
    assert not reader.done()
    first, second = _event(sub.job_id, 1), _event(sub.job_id, 2)
    sub.offer_all([first, second])
    async with asyncio.timeout(CEILING_S):
        assert await reader is first
    assert not sub.empty()
    assert sub.get_nowait() is second
    assert sub.empty()
    with pytest.raises(IndexError):
        sub.get_nowait()


async def test_a_full_queue_drops_and_flags_the_lag_until_drained():
    sub = Subscription(uuid.uuid4(), maxsize=2)
    for event_id in (1, 2, 3):
        sub.offer(_event(sub.job_id, event_id))
    assert sub.lagged
    assert [sub.get_nowait().id, sub.get_nowait().id] == [1, 2]  # type: ignore[union-attr]
    sub.offer(_event(sub.job_id, 4))
    sub.drain()
    assert sub.empty()
    assert not sub.lagged


async def test_close_wakes_the_reader_with_none_or_leaves_closed_for_it_to_see():
    sub = Subscription(uuid.uuid4())
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    sub.close()
    async with asyncio.timeout(CEILING_S):
        assert await reader is None
    assert sub.closed

    full = Subscription(uuid.uuid4(), maxsize=1)
    full.offer(_event(full.job_id, 1))
    full.close()  # no room for the None: the reader sees ``closed`` when it next looks
    assert full.closed
    assert full.get_nowait() is not None
    assert full.empty()


async def test_a_cancelled_wait_leaves_the_subscription_usable():
    sub = Subscription(uuid.uuid4())
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    event = _event(sub.job_id, 1)
    sub.offer(event)  # nobody waits: it is queued
    async with asyncio.timeout(CEILING_S):
        assert await sub.get() is event


async def test_direct_takes_offered_events_only_while_nothing_is_queued():
    sub = Subscription(uuid.uuid4())
    handed: list[int] = []

    def direct(events: list[Event]) -> bool:
        handed.extend(e.id for e in events)
        return True

    sub.direct = direct  # type: ignore[assignment]
    sub.offer_all([_event(sub.job_id, 1)])
    assert handed == [1]
    assert sub.empty()
    sub.direct = None
    sub.offer_all([_event(sub.job_id, 2)])
    sub.direct = direct  # type: ignore[assignment]
    sub.offer_all([_event(sub.job_id, 3)])  # something is queued: behind it, in order
    assert handed == [1]
    assert [sub.get_nowait().id, sub.get_nowait().id] == [2, 3]  # type: ignore[union-attr]

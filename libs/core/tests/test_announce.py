"""After a commit: in what order the live feed, the bus messages and the committer's own work go."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from planwright.core.events import Event
from planwright.core.feed import MemoryFeed
from planwright.core.messages import PlanFailed
from planwright.core.outbox import Pending, announce


class RecordingFeed:
    """A feed that is not the in-process one (as RedisFeed): its first step writes, then it waits.
    (The rest of the EventFeed protocol is not used by announce.)"""

    def __init__(self, order: list[str], fail: bool = False) -> None:
        self.order, self.fail = order, fail

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        yield
        self.order.append("one write")  # what both wrote meanwhile goes to Redis now

    async def publish(self, events: Sequence[Event], follows: Mapping[uuid.UUID, int] | None = None) -> None:
        self.order.append("feed written")
        if self.fail:
            raise RuntimeError("the feed broke")  # before the messages are answered
        await asyncio.sleep(0.01)  # the announcement's round trip
        self.order.append("feed answered")


class RecordingMemoryFeed(MemoryFeed):
    def __init__(self, order: list[str]) -> None:
        super().__init__()
        self.order = order

    async def publish(self, events: Sequence[Event], follows: Mapping[uuid.UUID, int] | None = None) -> None:
        self.order.append("feed written")


class RecordingOutbox:
    def __init__(self, order: list[str]) -> None:
        self.order = order

    async def write(self, conn: Any, items: Any) -> Pending:
        raise AssertionError("not written here")

    async def sent(self, pending: Pending) -> None:
        self.order.append("messages written")
        await asyncio.sleep(0.01)  # the publish's round trip
        self.order.append("messages answered")


def _feed(feed: RecordingFeed) -> Any:
    return feed


def _pending() -> Pending:
    return Pending([("pw:jobs", PlanFailed(job_id=uuid.uuid4(), reason="r"))], [1])


async def test_distributed_the_feed_and_the_messages_are_written_before_the_committers_own_work() -> None:
    order: list[str] = []
    await announce(
        _feed(RecordingFeed(order)),
        RecordingOutbox(order),
        [],
        _pending(),
        meanwhile=lambda: order.append("bookkeeping"),
    )
    assert order[:4] == ["feed written", "messages written", "one write", "bookkeeping"]
    assert sorted(order[4:]) == ["feed answered", "messages answered"]  # both awaited before it returns


async def test_distributed_a_failing_feed_is_raised_after_the_messages_and_the_bookkeeping() -> None:
    order: list[str] = []
    with pytest.raises(RuntimeError, match="the feed broke"):
        await announce(
            _feed(RecordingFeed(order, fail=True)),
            RecordingOutbox(order),
            [],
            _pending(),
            meanwhile=lambda: order.append("bookkeeping"),
        )
    assert "bookkeeping" in order
    assert "messages answered" in order


async def test_embedded_the_committers_work_then_the_events_then_the_messages() -> None:
    order: list[str] = []
    await announce(
        RecordingMemoryFeed(order),
        RecordingOutbox(order),
        [],
        _pending(),
        meanwhile=lambda: order.append("bookkeeping"),
    )
    assert order == ["bookkeeping", "feed written", "messages written", "messages answered"]

"""The shared consume loop: outages hold the batch, bad messages are isolated, then given up on."""

from __future__ import annotations

import asyncio
import logging
import uuid

import asyncpg  # type: ignore[import-untyped]
import pytest
import sqlalchemy.exc

from planwright.core import names
from planwright.core.bus import MemoryBus
from planwright.core.consumer import consume
from planwright.core.messages import JobCreated, PlanFailed, TaskFailed, TaskReview


def job(n: int) -> JobCreated:
    return JobCreated(job_id=uuid.UUID(int=n), goal=f"goal {n}")


async def run_until(bus, handle, done, **kwargs):
    stop = asyncio.Event()
    loop = asyncio.create_task(consume(bus, ["s"], "g", "c", handle, stop, block_s=0.01, **kwargs))
    try:
        async with asyncio.timeout(5):
            await done.wait()
    finally:
        stop.set()
        await loop


# What asyncpg's errors become in SQLAlchemy when Postgres stops with ``pg_ctl stop -m fast``: a plain
# DBAPIError around admin_shutdown (57P01), then refused connections.
_SHUTDOWN = asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")
_OUTAGES: dict[str, tuple[list[Exception], str]] = {
    "a fast shutdown": (
        [sqlalchemy.exc.DBAPIError("SELECT 1", {}, _SHUTDOWN), *[ConnectionRefusedError(111, "refused")] * 2],
        "g: database unavailable, the server is shutting down (AdminShutdownError",
    ),
    "refused connections": (
        [sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))] * 3,
        "g: database unavailable, connection refused (",
    ),
}


@pytest.mark.parametrize("outage", list(_OUTAGES))
async def test_an_outage_holds_the_batch_and_is_logged_once_when_it_starts_and_ends(caplog, outage):
    failures, first_line = _OUTAGES[outage]  # backing off 0.2 s, 0.4 s, 0.8 s
    bus = MemoryBus(visibility_timeout_s=0.05)
    await bus.publish("s", [job(1), job(2)])
    calls = []
    done = asyncio.Event()

    async def handle(batch):
        calls.append([d.deliveries for d in batch])
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        done.set()

    with caplog.at_level(logging.INFO, logger="planwright.core.consumer"):
        await run_until(bus, handle, done, max_deliveries=2)
    # Held and retried in place: never redelivered (the visibility timeout is far shorter) nor dead.
    assert calls == [[1, 1]] * (len(failures) + 1)
    assert bus.dead == []
    assert await bus.backlog("s") == 0  # acked
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith(first_line), lines[0]
    assert lines[0].endswith("holding 2 message(s) and retrying until it answers")
    assert lines[1].startswith("g: database answers again after ")


async def test_one_bad_message_does_not_hold_back_the_others():
    bus = MemoryBus(visibility_timeout_s=60)
    await bus.publish("s", [job(1), job(2), job(3)])
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(batch):
        if any(d.message.goal == "goal 2" for d in batch):
            raise ValueError("cannot handle goal 2")
        handled.extend(d.message.goal for d in batch)
        if len(handled) == 2:
            done.set()

    await run_until(bus, handle, done)
    assert handled == ["goal 1", "goal 3"]
    assert await bus.backlog("s") == 2  # goal 2 is still pending, so nothing from it on is trimmed


async def test_a_message_delivered_too_often_is_dead_lettered_and_its_work_failed():
    bus = MemoryBus(visibility_timeout_s=0.02)
    review = TaskReview(
        job_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=2,
        key="k",
        tool="t",
        title="T",
        goal="g",
        output={},
    )
    await bus.publish("s", [review, job(9)])
    done = asyncio.Event()

    async def handle(batch):
        raise ValueError("always fails")

    async def watch():
        while True:
            if len(bus.dead) == 2:
                done.set()
                return
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    await run_until(bus, handle, done, max_deliveries=3)
    await watcher
    assert [d.deliveries for d, _ in bus.dead] == [4, 4]
    assert all("gave up after 3 deliveries to g" in reason for _, reason in bus.dead)
    reported = [d.message for d in await bus.read([names.ORCHESTRATOR], "o", "o", count=10, block_s=0)]
    assert isinstance(reported[0], TaskFailed)
    assert (reported[0].task_id, reported[0].attempt) == (review.task_id, 2)
    assert isinstance(reported[1], PlanFailed)
    assert reported[1].job_id == uuid.UUID(int=9)

"""The outbox relay on Postgres: rows published after their commit are deleted in the background on
the relay's own held connection (no pool checkout per pass), and a connection the server dropped is
replaced without losing a delete."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from planwright.core import names
from planwright.core.bus import MemoryBus
from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
from planwright.core.db.schema import outbox
from planwright.core.db.tests.support import postgres_database
from planwright.core.messages import PlanStarted
from planwright.core.outbox import OutboxRelay

CEILING_S = 30.0  # generous: a loaded 2-core machine


@pytest.fixture
def database_url():
    with postgres_database() as url:  # creates and drops it with a loop of its own: a plain fixture
        upgrade_head(url)
        yield url


async def rows_left(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one())


async def until_no_rows(engine, what: str) -> None:
    deadline = time.monotonic() + CEILING_S
    while (left := await rows_left(engine)) > 0:
        assert time.monotonic() < deadline, (
            f"waited {CEILING_S} s for the relay to delete {what}: {left} left"
        )
        await asyncio.sleep(0.02)


async def commit_and_send(engine, relay: OutboxRelay, n: int) -> list[PlanStarted]:
    messages = [PlanStarted(job_id=uuid.uuid4(), planner="rules") for _ in range(n)]
    async with engine.begin() as conn:
        pending = await relay.write(conn, [(names.ORCHESTRATOR, m) for m in messages])
    await relay.sent(pending)
    return messages


async def published(bus: MemoryBus) -> list[object]:
    got = await bus.read([names.ORCHESTRATOR], "test", "t", count=1000, block_s=0)
    return [d.message for d in got]


@contextlib.asynccontextmanager
async def running_relay(
    database_url: str, *, sweep_s: float
) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine, MemoryBus, OutboxRelay]]:
    """A relay running on its own engine; yields that engine, another one to look with, the bus, the relay."""
    engine = make_engine(database_url, pool_size=2)
    observer = make_engine(database_url, pool_size=1)
    bus = MemoryBus()
    relay = OutboxRelay(engine, bus, delete_every_s=0.01, sweep_s=sweep_s)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        yield engine, observer, bus, relay
    finally:
        stop.set()
        relay.kick()
        await running
        await relay.close()
        await engine.dispose()
        await observer.dispose()


async def test_published_rows_are_deleted_on_the_relays_own_connection(database_url):
    async with running_relay(database_url, sweep_s=0.05) as (engine, observer, bus, relay):
        checkouts = []
        sa.event.listen(engine.sync_engine.pool, "checkout", lambda *_: checkouts.append(1))
        sent: list[object] = []
        for n in (3, 1, 5):  # three rounds, each deleted before the next (sweeps run meanwhile)
            sent += await commit_and_send(engine, relay, n)
            before = len(checkouts)
            await until_no_rows(observer, f"a round of {n} published rows")
            assert len(checkouts) - before <= 1  # the relay's one connection, taken once at most
        assert await published(bus) == sent  # each once, in order: the sweeps found nothing left


async def test_a_dropped_relay_connection_is_replaced_and_the_delete_still_happens(database_url):
    async with running_relay(database_url, sweep_s=3600) as (engine, observer, _, relay):
        await commit_and_send(engine, relay, 2)
        await until_no_rows(observer, "the first rows")
        async with observer.connect() as conn:  # the server drops every other connection
            dropped = await conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert dropped.scalar_one() >= 1
        await commit_and_send(engine, relay, 2)
        await until_no_rows(observer, "the rows sent after the relay's connection was dropped")

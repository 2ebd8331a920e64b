"""The held write connection: reused, and replaced without failing anything when the database dropped it."""

from __future__ import annotations

import asyncio
import logging

import pytest
import sqlalchemy as sa

from planwright.core.db.engine import Writer, make_engine
from planwright.core.db.tests.support import postgres_database


@pytest.fixture
def database_url():
    with postgres_database() as url:  # creates and drops it with a loop of its own: a plain fixture
        yield url


@pytest.fixture
async def engine(database_url):
    engine = make_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


async def backend_pid(conn) -> int:
    return int((await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def test_transactions_share_one_connection(engine):
    writer = Writer(engine)
    try:
        first = await writer.run(backend_pid)
        second = await writer.run(backend_pid)
        assert first == second
    finally:
        await writer.close()


async def test_a_connection_the_server_closed_is_replaced_and_the_work_runs(engine, caplog):
    caplog.set_level(logging.INFO)
    writer = Writer(engine)
    try:
        dead = await writer.run(backend_pid)
        async with engine.connect() as admin:  # the server drops the held connection, as in a restart
            await admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": dead})
            await admin.commit()
        await asyncio.sleep(0.1)
        runs = []

        async def work(conn):
            runs.append(1)
            return await backend_pid(conn)

        fresh = await writer.run(work)
        assert fresh != dead
        assert len(runs) == 2  # the first try met the dead connection; the second succeeded
        assert "running the transaction again" in caplog.text
    finally:
        await writer.close()


async def test_an_error_of_the_work_itself_is_not_retried(engine):
    writer = Writer(engine)
    runs = []

    async def work(conn):
        runs.append(1)
        await conn.execute(sa.text("SELECT 1/0"))

    try:
        with pytest.raises(sa.exc.DBAPIError):
            await writer.run(work)
        assert runs == [1]
    finally:
        await writer.close()

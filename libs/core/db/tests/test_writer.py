"""The held write and read connections: reused, and replaced without failing anything when the
database dropped them."""

from __future__ import annotations

import asyncio
import functools
import json
import logging

import pytest
import sqlalchemy as sa

from planwright.core.db.engine import HeldReader, ReadPool, Writer, driver_connection, make_engine
from planwright.core.db.reads import fetch_all
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


async def drop(engine, pid: int) -> None:
    """The server drops that connection, as in a restart; returns once its backend has exited."""
    async with engine.connect() as admin:
        query = sa.text("SELECT pg_terminate_backend(:pid, 30000)")  # waits for the exit, 30 s at most
        gone = (await admin.execute(query, {"pid": pid})).scalar()
        await admin.commit()
    assert gone, f"the backend {pid} was still running 30 s after it was told to stop"


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
        await drop(engine, dead)
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


PID = sa.select(sa.func.pg_backend_pid().label("pid"))


async def raw_backend_pid(conn) -> int:
    """The same through the driver (reads.fetch_all), as the live feed reads events."""
    return int((await fetch_all(conn, PID, {}))[0].pid)


@pytest.mark.parametrize("backend_pid", [backend_pid, raw_backend_pid], ids=["core", "driver"])
async def test_a_held_reader_keeps_its_connection_and_replaces_a_dead_one(engine, backend_pid):
    reader = HeldReader(engine)
    try:
        first = await reader.run(backend_pid)
        assert await reader.run(backend_pid) == first  # no checkout (and no ping) per read
        await drop(engine, first)
        runs = []

        async def read(conn):
            runs.append(1)
            return await backend_pid(conn)

        assert await reader.run(read) != first
        assert len(runs) == 2  # the first try met the dead connection; the second succeeded
    finally:
        await reader.close()


async def test_a_held_reader_does_not_retry_a_failing_read(engine):
    reader = HeldReader(engine)
    runs = []

    async def read(conn):
        runs.append(1)
        await conn.execute(sa.text("SELECT 1/0"))

    try:
        with pytest.raises(sa.exc.DBAPIError):
            await reader.run(read)
        assert runs == [1]
        assert await reader.run(backend_pid) > 0  # and reads again afterwards
    finally:
        await reader.close()


async def test_a_single_statement_commits_on_its_own_and_survives_a_dropped_connection(engine):
    writer = Writer(engine)
    try:
        await writer.once(lambda conn: conn.execute(sa.text("CREATE TABLE t (n int)")))
        await writer.run(lambda conn: conn.execute(sa.text("SELECT 1")))  # the same held connection
        first = await writer.run(backend_pid)

        async def insert(conn):
            driver = (await conn.get_raw_connection()).driver_connection
            await driver.execute("INSERT INTO t VALUES (1)")  # straight to asyncpg: no transaction
            return await backend_pid(conn)

        assert await writer.once(insert) == first
        async with engine.connect() as other:  # committed: another connection sees it at once
            assert (await other.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 1
        await drop(engine, first)
        assert await writer.once(insert) != first  # found dead, run once more on a fresh connection
        async with engine.connect() as other:
            assert (await other.execute(sa.text("SELECT count(*) FROM t"))).scalar() == 2
    finally:
        await writer.close()


async def test_a_read_pool_serves_many_reads_on_its_few_connections(engine):
    pool = ReadPool(engine, size=2)

    async def slow_pid(conn):
        pid = await backend_pid(conn)
        await asyncio.sleep(0.01)  # held across an await: other reads must wait their turn
        return pid

    try:
        pids = await asyncio.gather(*(pool.run(slow_pid) for _ in range(20)))
        assert len(set(pids)) <= 2
        with pytest.raises(sa.exc.DBAPIError):  # a failing read fails alone...
            await pool.run(lambda conn: conn.execute(sa.text("SELECT 1/0")))
        assert set(await asyncio.gather(*(pool.run(backend_pid) for _ in range(4)))) <= set(pids)  # ...kept
    finally:
        await pool.close()


# The shape of the Orchestrator's batch updates (write_together): the rows as one JSON document,
# joined to the table by its key.
KEYED_UPDATE = (
    "UPDATE items AS t SET n = v.n FROM json_to_recordset($1::json) AS v(n int, id int) WHERE t.id = v.id"
)


async def generic_plan(conn) -> str:
    """The plan the server keeps for ``KEYED_UPDATE`` once prepared (a generic plan: it cannot know
    how many rows the arrays hold), over a small table."""
    driver = (await conn.get_raw_connection()).driver_connection
    mode = await driver.fetchval("SHOW plan_cache_mode")
    await driver.execute("SET plan_cache_mode = force_generic_plan")
    try:
        await driver.execute(f"PREPARE keyed(json) AS {KEYED_UPDATE}")
        rows = await driver.fetch("""EXPLAIN EXECUTE keyed('[{"n": 1, "id": 1}]')""")
        await driver.execute("DEALLOCATE keyed")
    finally:
        await driver.execute(f"SET plan_cache_mode = {mode}")  # as it was (the writer's own setting)
    return "\n".join(row[0] for row in rows)


async def test_the_writer_finds_rows_by_key_even_while_the_tables_are_small(engine):
    """A generic plan made while a table is small scans it whole at every write, as the table grows,
    until the next ANALYZE: the writer's session steers it to the index, row by row (and gives the
    settings back)."""
    writer = Writer(engine)
    try:

        async def setup(conn):
            await conn.execute(sa.text("CREATE TABLE items (id int PRIMARY KEY, n int)"))
            await conn.execute(sa.text("INSERT INTO items SELECT g, 0 FROM generate_series(1, 50) g"))
            await conn.execute(sa.text("ANALYZE items"))

        await writer.run(setup)
        async with engine.connect() as plain:
            assert "Seq Scan on items" in await generic_plan(plain), (
                "the planner here no longer scans a small table for this join, so this test shows nothing"
            )
        plan = await writer.once(generic_plan)
        # A loop over the document's rows, each found by its key: neither a scan nor a hash or merge
        # join over the whole index (the plan a guess of a hundred rows leads to with scans off).
        assert "Nested Loop" in plan, plan
        assert "Index Scan using items_pkey on items" in plan, plan
        assert "Seq Scan" not in plan, plan
        assert "Hash" not in plan, plan
        assert "Merge" not in plan, plan
        for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
            assert await writer.once(functools.partial(_setting, name=setting)) == "off"

        pid = await writer.run(backend_pid)
        await writer.close()  # back to the pool, as it was taken
        async with engine.connect() as first, engine.connect() as second:  # the pool's two
            given_back = {await backend_pid(c): c for c in (first, second)}
            assert pid in given_back, "expected the pool to hand out the writer's connection again"
            for setting in ("enable_seqscan", "enable_hashjoin", "enable_mergejoin"):
                assert await _setting(given_back[pid], setting) == "on"
    finally:
        await writer.close()


async def plans_of_keyed_update(conn, runs: int) -> tuple[int, int]:
    """Runs ``KEYED_UPDATE`` ``runs`` times as the Orchestrator runs its batch statements (prepared
    once by asyncpg, then executed); returns how many of those runs Postgres planned anew (custom
    plans) and how many ran on the statement's generic plan."""
    driver = await driver_connection(conn)
    for n in range(runs):
        await driver.fetch(KEYED_UPDATE, json.dumps([{"n": n, "id": 1 + n % 3}]))
    row = await driver.fetchrow(
        "SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE statement = $1", KEYED_UPDATE
    )
    assert row is not None, "expected asyncpg to have prepared the statement on this connection"
    return int(row["custom_plans"]), int(row["generic_plans"])


async def test_the_writer_runs_its_statements_on_their_generic_plan(engine):
    """Left to choose, Postgres plans a prepared statement anew for its first five runs, and for good
    whenever its generic plan's estimate costs more than a plan for the real values (the Orchestrator's
    last batch of a job: ~0.5 ms of planning at each run). The writer's session keeps to the generic
    plan, and gives that setting back with the connection."""
    writer = Writer(engine)
    try:

        async def setup(conn):
            await conn.execute(sa.text("CREATE TABLE items (id int PRIMARY KEY, n int)"))
            await conn.execute(sa.text("INSERT INTO items SELECT g, 0 FROM generate_series(1, 50) g"))

        await writer.run(setup)
        assert await writer.once(lambda c: plans_of_keyed_update(c, 8)) == (0, 8)
        assert await writer.once(lambda c: _setting(c, "plan_cache_mode")) == "force_generic_plan"

        pid = await writer.run(backend_pid)
        await writer.close()  # back to the pool, as it was taken
        async with engine.connect() as first, engine.connect() as second:  # the pool's two
            given_back = {await backend_pid(c): c for c in (first, second)}
            assert pid in given_back, "expected the pool to hand out the writer's connection again"
            assert await _setting(given_back[pid], "plan_cache_mode") == "auto"
            custom, generic = await plans_of_keyed_update(given_back[pid], 8)
            assert custom >= 5, (custom, generic)  # Postgres's own choice, outside the writer
    finally:
        await writer.close()


async def test_a_connection_whose_setting_could_not_be_undone_is_not_given_back(engine, monkeypatch):
    writer = Writer(engine)
    pid = await writer.run(backend_pid)

    async def fails(self, conn):
        raise OSError("the reset did not go through")

    monkeypatch.setattr(Writer, "_closing", fails)
    await writer.close()
    async with engine.connect() as first, engine.connect() as second:  # whatever the pool holds
        assert pid not in {await backend_pid(first), await backend_pid(second)}


async def _setting(conn, name: str) -> str:
    return str((await conn.execute(sa.text(f"SHOW {name}"))).scalar_one())


async def test_the_driver_connection_is_the_one_held_and_a_new_one_after_invalidation(engine) -> None:
    async with engine.connect() as conn:
        pid = await backend_pid(conn)
        held = await driver_connection(conn)
        assert held is (await conn.get_raw_connection()).driver_connection
        assert await held.fetchval("SELECT pg_backend_pid()") == pid
        await conn.invalidate()  # as after a dropped connection: the next use connects again
        await conn.rollback()  # the transaction that began with pg_backend_pid() is over
        fresh = await driver_connection(conn)
        assert fresh is not held
        assert await fresh.fetchval("SELECT pg_backend_pid()") != pid

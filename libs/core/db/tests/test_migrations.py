"""The same migrations run on SQLite and on Postgres, and match the schema the code uses."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import alembic_config, upgrade_head
from planwright.core.db.schema import metadata
from planwright.core.db.tests.support import PG_ADMIN, postgres_database

TABLES = {
    "jobs",
    "plans",
    "tasks",
    "artifacts",
    "events",
    "outbox",
    "critic_verdicts",
    "policy_decisions",
    "llm_calls",
    "llm_spend",
    "api_keys",
    "api_sessions",
    "idempotency_keys",
    "alembic_version",
}


def _diff_against_code(url: str) -> list[object]:
    async def run() -> list[object]:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = make_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_sqlite_upgrade_head_matches_the_schema(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade_head(url)
    upgrade_head(url)  # idempotent
    assert _tables(url) == TABLES
    assert _diff_against_code(url) == []


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throwaway Postgres database for this test run."""
    with ExitStack() as cleanup:
        try:
            url = cleanup.enter_context(postgres_database())
        except OSError as exc:  # only the setup: a failure inside the test must not become a skip
            if os.environ.get("CI"):
                raise
            pytest.skip(f"Postgres is not reachable at {PG_ADMIN}: {exc}")
        yield url


def test_postgres_upgrade_head_matches_the_schema(pg_database):
    upgrade_head(pg_database)
    upgrade_head(pg_database)
    assert _tables(pg_database) == TABLES
    assert _diff_against_code(pg_database) == []


def test_postgres_compresses_large_values_with_lz4(pg_database):
    """The columns that carry outputs, plans and dispatches compress with lz4 (much cheaper than pglz
    on the Orchestrator's writes); the downgrade gives them back to the server's default."""
    upgrade_head(pg_database)
    large = {("tasks", "output"), ("events", "data"), ("outbox", "payload"), ("plans", "spec")}

    async def run(sql: str) -> list[Any]:
        engine = make_engine(pg_database, pool_size=1)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.text(sql))
                rows = [tuple(r) for r in result.all()] if result.returns_rows else []
                await conn.commit()
                return rows
        finally:
            await engine.dispose()

    methods = dict(
        asyncio.run(
            run(
                "SELECT c.relname || '.' || a.attname, a.attcompression::text FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid "
                "WHERE c.relname IN ('tasks', 'events', 'outbox', 'plans')"
            )
        )
    )
    assert {f"{t}.{c}": methods[f"{t}.{c}"] for t, c in large} == {f"{t}.{c}": "l" for t, c in large}
    assert methods["tasks.status"] == ""  # small values: left alone
    # A large value written now is stored with lz4.
    asyncio.run(
        run(
            "INSERT INTO outbox (stream, payload, created_at) "
            "VALUES ('s', repeat(md5(random()::text), 5000), now())"
        )
    )
    written = asyncio.run(run("SELECT pg_column_compression(payload) FROM outbox WHERE stream = 's'"))
    assert written == [("lz4",)]

    config = alembic_config(pg_database)
    command.downgrade(config, "0015")
    back = dict(
        asyncio.run(
            run("SELECT attname, attcompression::text FROM pg_attribute WHERE attrelid = 'tasks'::regclass")
        )
    )
    assert back["output"] == ""
    upgrade_head(pg_database)

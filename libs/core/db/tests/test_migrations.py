"""The same migrations run on SQLite and on Postgres, and match the schema the code uses."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
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

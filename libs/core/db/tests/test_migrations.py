"""The same migrations run on SQLite and on Postgres, and match the schema the code uses."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
from planwright.core.db.schema import metadata

PG_ADMIN = os.environ.get("PLANWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = {"jobs", "plans", "tasks", "artifacts", "events", "outbox", "alembic_version"}


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
    name = f"pw_test_{uuid.uuid4().hex[:12]}"

    async def admin_exec(sql: str) -> None:
        engine = make_engine(PG_ADMIN, pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text(sql))
        finally:
            await engine.dispose()

    try:
        asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Postgres is not reachable at {PG_ADMIN}: {exc}")
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_postgres_upgrade_head_matches_the_schema(pg_database):
    upgrade_head(pg_database)
    upgrade_head(pg_database)
    assert _tables(pg_database) == TABLES
    assert _diff_against_code(pg_database) == []

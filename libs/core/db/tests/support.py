"""Throwaway Postgres databases for tests: one per test, dropped afterwards (and, should a test be
stopped half-way, at the end of its session: tests/isolation.py names them after the run and worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from planwright.core.db.engine import make_engine
from tests import isolation

# The admin URL of the Postgres where tests may create databases (PLANWRIGHT_TEST_DATABASE_URL).
PG_ADMIN = isolation.PG_ADMIN


def admin_sql(sql: str) -> None:
    """Run one statement outside a transaction on the server's admin database."""

    async def run() -> None:
        engine = make_engine(PG_ADMIN, pool_size=1)
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty database; yields its URL. Raises OSError when Postgres is unreachable."""
    name = isolation.database_name()
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield isolation.database_url(name)
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

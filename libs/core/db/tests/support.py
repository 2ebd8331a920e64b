"""Throwaway Postgres databases for tests: one per test, dropped afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from planwright.core.db.engine import make_engine

PG_ADMIN = os.environ.get("PLANWRIGHT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    name = f"pw_test_{uuid.uuid4().hex[:12]}"
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

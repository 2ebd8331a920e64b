"""Async engines for both modes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from planwright.core.db import sqlite_inline
from planwright.core.settings import async_db_url


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for ``url`` (plain ``postgresql://`` accepted). SQLite gets WAL and a busy timeout."""
    url = async_db_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Statements run on the event loop, not in aiosqlite's thread (sqlite_inline.py, ADR 0013).
        engine = create_async_engine(url, async_creator=sqlite_inline.connector(path, timeout_s=30))

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Writer:
    """Where one process's write transactions run.

    On SQLite (one writer, this process, its writes serialised by the caller's lock) one connection is
    held and reused: a pool checkout and return cost several times what a small transaction does. On
    Postgres each transaction takes a connection from the pool, which replaces broken ones.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._held = engine.dialect.name == "sqlite"
        self._conn: AsyncConnection | None = None

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction, committed when the block ends (rolled back if it raises)."""
        if not self._held:
            async with self._engine.begin() as conn:
                yield conn
            return
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = await self._engine.connect()
        async with self._conn.begin():
            yield self._conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

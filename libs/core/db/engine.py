"""Async engines for both modes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from planwright.core.db import jsoncodec, sqlite_inline
from planwright.core.settings import async_db_url

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long a SQLite statement waits for another process's lock. Statements run on the event loop and
# this process serialises its own writes, so only another process (one running `planwright migrate`
# on the same file, say) can hold it: a short wait keeps the loop responsive, and the failed batch is
# held and retried like any outage (database is locked is an OperationalError).
SQLITE_BUSY_TIMEOUT_MS = 250
# Postgres: how long a new connection may take, and a request may wait for a free one of the pool.
# While Postgres is away a request fails within these (and is answered 503) rather than hanging on a
# host that drops packets: asyncpg alone would wait 60 s to connect, SQLAlchemy 30 s for the pool.
CONNECT_TIMEOUT_S = 5.0
POOL_TIMEOUT_S = 10.0


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for ``url`` (plain ``postgresql://`` accepted). SQLite gets WAL and a busy timeout."""
    url = async_db_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Statements run on the event loop, not in aiosqlite's thread (sqlite_inline.py, ADR 0013).
        engine = create_async_engine(
            url,
            async_creator=sqlite_inline.connector(path, timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000),
            json_serializer=jsoncodec.dumps,
            json_deserializer=jsoncodec.loads,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()

        return engine
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=POOL_TIMEOUT_S,
        pool_pre_ping=True,
        connect_args={"timeout": CONNECT_TIMEOUT_S},
        json_serializer=jsoncodec.dumps,
        json_deserializer=jsoncodec.loads,
    )


class _Held:
    """One connection kept open and reused, instead of a pool checkout (with its pre-ping round trip
    on Postgres) per use; a connection found dead is replaced."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def _current(self) -> AsyncConnection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            conn = await self._engine.connect()
            try:
                await self._opened(conn)
            except BaseException:
                await _discard(conn)  # never back to the pool half set up
                raise
            self._conn = conn
        return self._conn

    async def _opened(self, conn: AsyncConnection) -> None:
        """A connection just taken from the pool, before its first use here."""

    async def _closing(self, conn: AsyncConnection) -> None:
        """Before the connection goes back to the pool: undo what ``_opened`` set."""

    async def _twice(self, work: Callable[[AsyncConnection], Awaitable[T]], what: str) -> T:
        """``work`` on the held connection, outside a transaction of ours (one that Core began for it
        is committed after, or rolled back if it raised). If the connection turns out to be dead (the
        database restarted since its last use), ``work`` runs once more on a fresh one; an error of
        the work itself is raised at once and the connection stays."""
        for attempt in (1, 2):
            conn = await self._current()
            try:
                result = await work(conn)
                if conn.in_transaction():
                    await conn.commit()
                return result
            except Exception:
                if not await _is_dead(conn):
                    if conn.in_transaction():
                        with contextlib.suppress(Exception):
                            await conn.rollback()
                    raise
                await self.close()
                if attempt == 2:
                    raise
                log.info("database connection was lost; %s again on a new one", what)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if not conn.closed and not conn.invalidated:
                    await self._closing(conn)
            except Exception:  # failed or timed out: not back to the pool as it is
                await _discard(conn)
            except BaseException:  # cancelled: the same, then on with the cancellation
                await _discard(conn)
                raise
            with contextlib.suppress(Exception):
                await conn.close()


# The writer's session settings (see ``Writer``), in one round trip each way.
_WRITER_SETTINGS = {
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
    "plan_cache_mode": "force_generic_plan",
}
_WRITER_SESSION = "; ".join(f"SET {name} = {value}" for name, value in _WRITER_SETTINGS.items())
_WRITER_SESSION_RESET = "; ".join(f"RESET {name}" for name in _WRITER_SETTINGS)
# Those settings as any session has them (what RESET gives), until the transaction ends: for a query
# on the writer's session that should plan as Postgres would (the Orchestrator's sweeps).
USUAL_PLANNING = sa.text(
    "SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN ("
    + ", ".join(f"'{name}'" for name in _WRITER_SETTINGS)
    + ")"
)


class Writer(_Held):
    """Where one process's write transactions run, one at a time (the caller serialises them), on
    one held connection: a pool checkout cost more than a small transaction. A connection that failed
    is closed and the next transaction takes a fresh one, so a database restart costs the
    transactions in flight and nothing more.

    On Postgres the writer's session plans with sequential scans, hash joins and merge joins off
    and always on a statement's generic plan (``_WRITER_SETTINGS``); all are reset when the
    connection goes back to the pool. Its writes find their rows by key: the batch statements join
    each part's rows (a JSON document, ``json_to_recordset``) to the tables by primary key, and
    their foreign keys are checked by key. Those statements are prepared once. A generic plan
    cannot know that a document holds a handful of rows (it guesses a hundred); made while the
    tables were small (a new database: every bench run, a new deployment's first minutes), it would
    read them whole at every batch, by a scan or a hash join over the whole index, as they grow:
    hence a nested loop over the rows, each found by its key. Left to choose, Postgres kept
    planning some statement shapes anew at every run (a job's last batch: ~0.3-0.5 ms of its bind),
    because their generic plan's estimate cost more than a plan for the real rows: hence generic
    plans only (ADR 0031).
    A query with no index to use still scans; the Orchestrator's sweeps, which select by state and
    so should scan, turn scans and the choice of plan back on for their transaction
    (docs/performance.md, sixth round).
    """

    async def _opened(self, conn: AsyncConnection) -> None:
        if (driver := await _asyncpg(conn)) is not None:
            await driver.execute(_WRITER_SESSION, timeout=CONNECT_TIMEOUT_S)

    async def _closing(self, conn: AsyncConnection) -> None:
        if (driver := await _asyncpg(conn)) is not None:
            if conn.in_transaction():
                await conn.rollback()
            # Bounded: a server that stopped answering must not hold up the writer's next attempt.
            await driver.execute(_WRITER_SESSION_RESET, timeout=CONNECT_TIMEOUT_S)

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction, committed when the block ends (rolled back if it raises)."""
        conn = await self._current()
        try:
            async with conn.begin():
                yield conn
        except BaseException:
            await self.close()  # whatever went wrong, the next transaction starts on a fresh connection
            raise

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``work`` in a transaction. If the held connection turns out to be dead (the database
        restarted since its last use; a pool would have pinged it first), ``work`` runs once more on a
        fresh connection, so a restart fails nothing that a pool checkout would not have failed."""
        try:
            async with self.begin() as conn:
                return await work(conn)
        except sa_exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            log.info("database connection was lost; running the transaction again on a new one")
        async with self.begin() as conn:
            return await work(conn)

    async def once(self, statement: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``statement`` (one statement, meant to go straight to the driver) outside a transaction: it
        commits on its own. Runs once more on a fresh connection if the held one turns out dead."""
        return await self._twice(statement, "running the statement")


class HeldReader(_Held):
    """One held connection for the reads of one task that reads over and over (the live feed's
    reader), one read at a time. A read that meets a dead connection runs once more on a fresh one."""

    async def run(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        return await self._twice(read, "reading")


async def _discard(conn: AsyncConnection) -> None:
    """Close ``conn``'s connection to the server instead of giving it back to the pool."""
    with contextlib.suppress(Exception):
        await conn.invalidate()


async def driver_connection(conn: AsyncConnection) -> Any:
    """The driver's own connection under ``conn`` (asyncpg's, or ``sqlite_inline``'s). While ``conn``
    holds its pooled connection, read straight off it: ``get_raw_connection`` runs the same look-up in
    a greenlet, in case the connection must be made again, ~13 us per call (once per statement that
    goes to the driver); that case still goes through it."""
    sync = conn.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        return sync.connection.driver_connection
    return (await conn.get_raw_connection()).driver_connection


async def _asyncpg(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn`` (None on SQLite)."""
    if conn.dialect.name != "postgresql":
        return None
    return await driver_connection(conn)


async def _is_dead(conn: AsyncConnection) -> bool:
    """Whether ``conn`` can no longer be used (the server closed it), not merely had a failed query."""
    if conn.closed or conn.invalidated:
        return True
    with contextlib.suppress(Exception):
        driver = await driver_connection(conn)
        is_closed = getattr(driver, "is_closed", None)  # asyncpg's; a SQLite file is never closed under us
        return bool(is_closed()) if callable(is_closed) else False
    return True


class ReadPool:
    """A few ``HeldReader`` connections for the API's hottest reads (``GET /jobs/{id}``, opening an
    event stream): no pool checkout and pre-ping round trip per read, and still no failed read after
    the database restarted (a dead connection is replaced and the read run once more). Reads beyond
    ``size`` at once wait their turn."""

    def __init__(self, engine: AsyncEngine, size: int = 8) -> None:
        self._idle = [HeldReader(engine) for _ in range(size)]
        self._turns = asyncio.Semaphore(size)

    async def run(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with self._turns:
            reader = self._idle.pop()
            try:
                return await reader.run(read)
            finally:
                self._idle.append(reader)

    async def close(self) -> None:
        for reader in self._idle:
            await reader.close()

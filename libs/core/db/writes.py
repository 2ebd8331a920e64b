"""The Orchestrator's row writes, through SQLAlchemy or, on SQLite, straight to the driver.

On SQLite (embedded mode) a statement through SQLAlchemy Core costs ~100 us of Python, twenty times
what SQLite takes to run it, and a batch is a handful of them. These helpers run the same INSERT and
UPDATE statements on the ``sqlite3`` connection itself, converting each value with the column type's
own SQLAlchemy bind processor, so the stored form is exactly what SQLAlchemy writes and reads back.
Everywhere else they are plain SQLAlchemy Core (ADR 0013).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db import sqlite_inline

Row = dict[str, Any]
_Convert = Callable[[Any], Any] | None
# SQLite allows 32,766 bound values per statement; a multi-row insert stays well below it.
_MAX_VALUES = 30_000


async def insert_rows(conn: AsyncConnection, table: sa.Table, rows: Sequence[Row]) -> None:
    """INSERT ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return
    raw = await _sqlite(conn)
    if raw is None:
        await conn.execute(sa.insert(table), list(rows))
        return
    columns = tuple(rows[0])
    sql, convert = _insert(conn.dialect, table, columns, returning=False)
    raw.executemany(sql, [_values(row, columns, convert) for row in rows])


async def insert_returning_ids(conn: AsyncConnection, table: sa.Table, rows: Sequence[Row]) -> list[int]:
    """INSERT ``rows`` and return their generated ``id``s in row order."""
    if not rows:
        return []
    raw = await _sqlite(conn)
    if raw is None:
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list((await conn.execute(stmt, list(rows))).scalars().all())
    columns = tuple(rows[0])
    ids: list[int] = []
    per_statement = max(1, _MAX_VALUES // len(columns))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql, convert = _insert(conn.dialect, table, columns, returning=True, count=len(chunk))
        values = [v for row in chunk for v in _values(row, columns, convert)]
        # SQLite gives each row the table's largest id + 1 in turn: sorted, the ids are in row order.
        ids.extend(sorted(r[0] for r in raw.execute(sql, values).fetchall()))
    return ids


async def update_rows(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[Row], *, key: str = "id"
) -> None:
    """UPDATE each row of ``table`` whose ``key`` equals the row's, setting the row's other values."""
    if not rows:
        return
    raw = await _sqlite(conn)
    columns = tuple(c for c in rows[0] if c != key)
    if raw is None:
        stmt = sa.update(table).where(table.c[key] == sa.bindparam("b_key"))
        params = [{"b_key": row[key], **{c: row[c] for c in columns}} for row in rows]
        await conn.execute(stmt.execution_options(synchronize_session=False), params)
        return
    sql, convert = _update(conn.dialect, table, columns, key)
    raw.executemany(sql, [_values(row, (*columns, key), convert) for row in rows])


async def _sqlite(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection under ``conn``, when it runs inline (sqlite_inline.py)."""
    if conn.dialect.name != "sqlite":
        return None
    driver = (await conn.get_raw_connection()).driver_connection
    return driver.sqlite if isinstance(driver, sqlite_inline.Connection) else None


def _values(row: Row, columns: Sequence[str], convert: Sequence[_Convert]) -> list[Any]:
    # Every value goes through its processor, None too (a JSON column stores None as 'null', as in Core).
    return [row[c] if f is None else f(row[c]) for c, f in zip(columns, convert, strict=True)]


@cache
def _converters(dialect: Dialect, table: sa.Table, columns: tuple[str, ...]) -> tuple[_Convert, ...]:
    return tuple(
        cast(_Convert, table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) for c in columns
    )


@cache
def _insert(
    dialect: Dialect, table: sa.Table, columns: tuple[str, ...], *, returning: bool, count: int = 1
) -> tuple[str, tuple[_Convert, ...]]:
    q = dialect.identifier_preparer
    one = "(" + ", ".join("?" for _ in columns) + ")"
    names = ", ".join(q.quote(c) for c in columns)
    sql = f"INSERT INTO {q.format_table(table)} ({names}) VALUES " + ", ".join([one] * count)
    if returning:
        sql += " RETURNING id"
    return sql, _converters(dialect, table, columns)


@cache
def _update(
    dialect: Dialect, table: sa.Table, columns: tuple[str, ...], key: str
) -> tuple[str, tuple[_Convert, ...]]:
    q = dialect.identifier_preparer
    sets = ", ".join(f"{q.quote(c)} = ?" for c in columns)
    sql = f"UPDATE {q.format_table(table)} SET {sets} WHERE {q.quote(key)} = ?"
    return sql, _converters(dialect, table, (*columns, key))

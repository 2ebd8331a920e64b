"""The Orchestrator's row writes, straight to the driver inside SQLAlchemy's transaction.

A statement through SQLAlchemy Core costs ~100 us of Python (statement cache key, parameter
processing, result set-up): on SQLite twenty times what SQLite takes to run it, on Postgres as much
as the round trip. These helpers run the same INSERT and UPDATE statements on the driver's own
connection (``sqlite3`` in embedded mode, ``asyncpg`` in distributed mode), inside the transaction
SQLAlchemy began, converting each value with its column type's own SQLAlchemy bind processor, so the
stored form is exactly what Core writes and reads back (ADR 0013). Any other driver, or an asyncpg
connection whose transaction has not started yet, goes through Core.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import uuid
from collections.abc import Callable, Sequence
from functools import cache, lru_cache
from typing import Any, TypeGuard, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db import sqlite_inline
from planwright.core.db.engine import driver_connection

Row = dict[str, Any]
_Convert = Callable[[Any], Any] | None
# SQLite allows 32,766 bound values per statement, Postgres 65,535; a multi-row insert stays below both
# (write_together passes a JSON document per part, and keeps to the same bound on the values it carries).
_MAX_VALUES = 30_000


async def insert_rows(conn: AsyncConnection, table: sa.Table, rows: Sequence[Row]) -> None:
    """INSERT ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return
    raw = await raw_connection(conn)
    if raw is None:
        await conn.execute(sa.insert(table), list(rows))
        return
    columns = tuple(rows[0])
    sql, convert = _insert(conn.dialect, table, columns, returning=False)
    await _executemany(raw, sql, [_values(row, columns, convert) for row in rows])


async def insert_returning_ids(conn: AsyncConnection, table: sa.Table, rows: Sequence[Row]) -> list[int]:
    """INSERT ``rows`` and return their generated ``id``s in row order."""
    if not rows:
        return []
    raw = await raw_connection(conn)
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
        # Each row takes the next id in turn (SQLite: the largest + 1; Postgres: the sequence's next
        # value, row by row): sorted, the returned ids are in row order.
        ids.extend(sorted(r[0] for r in await raw_fetch(raw, sql, values)))
    return ids


# One insert of ``write_together``: a table, its rows (all with the same keys), and whether the
# generated ``id``s are wanted back.
Part = tuple[sa.Table, Sequence[Row], bool]
# One update of ``write_together``: a table, its rows (all with the same keys), the key column.
Change = tuple[sa.Table, Sequence[Row], str]
# A guarded update of ``write_together``: its table and version column (see there).
Guard = tuple[sa.Table, str]
# One tally of ``write_together``: a table, its rows (all with the same keys, at most one per key), and
# the key columns: a row is inserted, or its other columns are added to the row already there.
Tally = tuple[sa.Table, Sequence[Row], tuple[str, ...]]


async def tally_rows(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[Row], keys: tuple[str, ...]
) -> None:
    """Insert each row, or add its other columns to those of the row with the same ``keys`` (an upsert
    that adds: concurrent writers never lose each other's amounts)."""
    if not rows:
        return
    columns = tuple(rows[0])
    raw = await raw_connection(conn)
    if raw is None:
        # The driver-less path (SQLite, or Postgres through SQLAlchemy): imported here, so that a
        # distributed process does not load the SQLite dialect.
        from sqlalchemy.dialects import postgresql, sqlite

        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
        added = {c: table.c[c] + insert.excluded[c] for c in columns if c not in keys}
        await conn.execute(insert.on_conflict_do_update(index_elements=list(keys), set_=added), list(rows))
        return
    sql, convert = _tally(conn.dialect, table, columns, keys)
    await _executemany(raw, sql, [_values(row, columns, convert) for row in rows])


class VersionConflict(Exception):
    """A guarded ``write_together`` found a row whose version another writer had moved: nothing of
    the statement was written."""


async def write_together(
    conn: AsyncConnection,
    parts: Sequence[Part],
    changes: Sequence[Change] = (),
    *,
    own_statement: bool = False,
    guard: Guard | None = None,
    tallies: Sequence[Tally] = (),
) -> list[list[int]] | None:
    """Updates and inserts in one statement (Postgres: data-modifying WITH queries), straight to
    asyncpg: one round trip instead of one per table. Inside the transaction SQLAlchemy began on
    ``conn`` or, with ``own_statement``, as a statement of its own outside any transaction (it
    commits by itself, atomic as every statement is). Foreign keys between the parts hold (they are
    checked at the end of the statement); no row may be both inserted and updated, nor updated twice
    (the parts see one snapshot). Returns, per insert part, the generated ids in row order ([] when
    not wanted); None when it cannot run here (SQLite has no INSERT in a WITH; too many values; a
    value JSON cannot carry exactly; no transaction open on the driver yet): then write them one by
    one.

    Each part's rows go as one JSON document (``json_to_recordset``), read by Postgres into the
    columns' own types, so the statement's text (and its prepared form, here and in Postgres) does
    not depend on how many rows there are. A value is stored as Core stores it: a JSON column's
    value is nested as it is (None stored as JSON ``null``), a time in ISO 8601 with its offset (a
    naive one taken as UTC, as asyncpg takes it). Encoding one document per part costs the API a
    fraction of encoding one array parameter per column (docs/performance.md, thirteenth round).

    With ``guard`` (a table and its version column), the update of that table only writes a row
    whose version in the database is one below the row's new one, and unless every one of its rows
    is written the whole statement is rolled back (Postgres function ``planwright_versions_held``,
    migration 0007) and ``VersionConflict`` raised: optimistic concurrency in one round trip.

    ``tallies`` are written last, as ``tally_rows`` writes them."""
    raw = await raw_connection(conn, outside_transaction=own_statement)
    present = [(i, table, rows, want) for i, (table, rows, want) in enumerate(parts) if rows]
    updated = [(table, rows, key) for table, rows, key in changes if rows]
    tallied = [(table, rows, keys) for table, rows, keys in tallies if rows]
    written = [rows for _, rows, _ in updated] + [rows for _, _, rows, _ in present]
    written += [rows for _, rows, _ in tallied]
    if not _is_asyncpg(raw) or sum(len(r) * len(r[0]) for r in written) > _MAX_VALUES:
        return None
    out: list[list[int]] = [[] for _ in parts]
    if not written:
        return out
    shape = tuple((table, tuple(rows[0]), want) for _, table, rows, want in present)
    update_shape = tuple((table, tuple(c for c in rows[0] if c != key), key) for table, rows, key in updated)
    tally_shape = tuple((table, tuple(rows[0]), keys) for table, rows, keys in tallied)
    sql, carried = _written_together(conn.dialect, shape, update_shape, guard, tally_shape)
    try:
        values = [
            value
            for rows, (floating, texts) in zip(written, carried, strict=True)
            for value in _params(rows, floating, texts)
        ]
    except _NotJson:
        return None
    import asyncpg  # type: ignore[import-untyped]  # loaded already: raw is its connection

    try:
        result = await raw.fetch(sql, *values)
    except asyncpg.PostgresError as exc:
        if guard is not None and exc.sqlstate == "40001":
            raise VersionConflict(str(exc)) from exc
        raise
    for part, generated in result:
        if part >= 0:
            out[present[part][0]].append(generated)
    # Each row takes the sequence's next value in turn: sorted, the ids are in row order.
    return [sorted(ids) for ids in out]


# Dict keys that are not strings become strings, as json.dumps makes them (jsoncodec); a naive time
# is written as UTC, as asyncpg writes one to a timestamptz column.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_NAIVE_UTC


class _NotJson(Exception):
    """A value that JSON cannot carry exactly (a float that is not finite, an integer beyond 64 bits,
    a type orjson does not know): the rows go one by one instead, through Core's processors."""


def _params(rows: Sequence[Row], floating: tuple[str, ...], texts: tuple[str, ...]) -> list[Any]:
    """A part's parameters: its rows as one JSON document without the text columns, then each text
    column's values as an array (``write_together``)."""
    if not texts:
        return [_document(rows, floating)]
    arrays = [[row[column] for row in rows] for column in texts]
    for values in arrays:
        if not all(value is None or type(value) is str for value in values):
            raise _NotJson("a text column holds something other than text")
    rest = [{k: v for k, v in row.items() if k not in texts} for row in rows]
    return [_document(rest, floating), *arrays]


def _document(rows: Sequence[Row], floating: tuple[str, ...]) -> str:
    """``rows`` as one JSON array of objects (``write_together``)."""
    for column in floating:  # orjson writes NaN and infinities as null
        for row in rows:
            value = row[column]
            if value is not None and not math.isfinite(value):
                raise _NotJson(f"{column} = {value!r}")
    try:
        return orjson.dumps(rows, default=_json_default, option=_JSON_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        raise _NotJson(str(exc)) from exc


def _json_default(value: Any) -> Any:
    """What orjson does not write itself: a UUID of a subclass (asyncpg reads ids back as its own)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


@lru_cache(maxsize=512)
def _written_together(
    dialect: Dialect,
    shape: tuple[tuple[sa.Table, tuple[str, ...], bool], ...],
    update_shape: tuple[tuple[sa.Table, tuple[str, ...], str], ...],
    guard: Guard | None = None,
    tally_shape: tuple[tuple[sa.Table, tuple[str, ...], tuple[str, ...]], ...] = (),
) -> tuple[str, tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]]:
    """The statement, and each part's (float columns, text columns), in placeholder order: the
    updates first, then the inserts, then the tallies. Each part's rows come as one JSON parameter,
    but for their text columns, each of which comes as an array parameter after it: a long text
    (a dispatch in its outbox row, a goal) inside the JSON is a string with every quote escaped,
    which Postgres reads more than twice as slowly as the same text in an array (nineteenth round
    of issue 11, docs/performance.md)."""
    q = dialect.identifier_preparer
    ctes: list[str] = []
    carried: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    selects: list[str] = []
    param = 0

    def rows_of(table: sa.Table, columns: tuple[str, ...], *, ordered: bool) -> tuple[str, int]:
        """The part's rows as a table ``v`` (with ``pw_row``, their order, if ``ordered``), and the
        number of its JSON document's parameter."""
        nonlocal param
        texts = tuple(c for c in columns if isinstance(table.c[c].type, sa.Text))
        in_json = tuple(c for c in columns if c not in texts)
        if not in_json:  # (a document has at least one column)
            texts, in_json = (), columns
        param += 1
        document = param
        typed = ", ".join(f"{q.quote(c)} {table.c[c].type.compile(dialect=dialect)}" for c in in_json)
        carried.append((tuple(c for c in in_json if isinstance(table.c[c].type, sa.Float)), texts))
        if not ordered and not texts:
            return f"json_to_recordset(${document}::json) AS v({typed})", document
        functions = [f"json_to_recordset(${document}::json) AS ({typed})"]
        for _ in texts:
            param += 1
            functions.append(f"unnest(${param}::text[])")
        names = ", ".join(q.quote(c) for c in (*in_json, *texts))
        if not ordered:
            return f"ROWS FROM ({', '.join(functions)}) AS v({names})", document
        return f"ROWS FROM ({', '.join(functions)}) WITH ORDINALITY AS v({names}, pw_row)", document

    def value(table: sa.Table, column: str) -> str:
        """``v``'s column as stored: a JSON column's null (JSON ``null`` in the row) is JSON ``null``,
        as Core stores None, not SQL NULL."""
        if isinstance(table.c[column].type.dialect_impl(dialect), sa.JSON):
            return f"coalesce(v.{q.quote(column)}, 'null'::jsonb)"
        return f"v.{q.quote(column)}"

    for n, (table, columns, key) in enumerate(update_shape):
        source, key_param = rows_of(table, (*columns, key), ordered=False)
        sets = ", ".join(f"{q.quote(c)} = {value(table, c)}" for c in columns)
        where = f"t.{q.quote(key)} = v.{q.quote(key)}"
        if guard is not None and guard[0] is table:
            version = q.quote(guard[1])
            where += f" AND t.{version} = v.{version} - 1 RETURNING 1"
            count = f"json_array_length(${key_param}::json)"
            held = f"planwright_versions_held({count}, (SELECT count(*) FROM u{n}))"
            selects.append(f"SELECT -1 AS part, {held}")
        target = q.format_table(table)
        ctes.append(f"u{n} AS (UPDATE {target} AS t SET {sets} FROM {source} WHERE {where})")
    for n, (table, columns, want) in enumerate(shape):
        names = ", ".join(q.quote(c) for c in columns)
        values = ", ".join(value(table, c) for c in columns)
        source, _ = rows_of(table, columns, ordered=True)
        # In row order (WITH ORDINALITY ... ORDER BY): each row takes the sequence's next id in turn.
        ctes.append(
            f"p{n} AS (INSERT INTO {q.format_table(table)} ({names}) SELECT {values} FROM {source} "
            "ORDER BY v.pw_row" + (" RETURNING id)" if want else ")")
        )
        if want:
            selects.append(f"SELECT {n} AS part, id FROM p{n}")
    for n, (table, columns, keys) in enumerate(tally_shape):
        names = ", ".join(q.quote(c) for c in columns)
        values = ", ".join(value(table, c) for c in columns)
        source, _ = rows_of(table, columns, ordered=False)
        ctes.append(
            f"t{n} AS (INSERT INTO {q.format_table(table)} AS t ({names}) SELECT {values} FROM {source} "
            f"{_on_conflict_add(dialect, columns, keys)})"
        )
    final = " UNION ALL ".join(selects) or "SELECT 0 AS part, 0 AS id WHERE false"
    return f"WITH {', '.join(ctes)} {final}", tuple(carried)


async def update_rows(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[Row], *, key: str = "id"
) -> None:
    """UPDATE each row of ``table`` whose ``key`` equals the row's, setting the row's other values."""
    if not rows:
        return
    raw = await raw_connection(conn)
    columns = tuple(c for c in rows[0] if c != key)
    if raw is None:
        stmt = sa.update(table).where(table.c[key] == sa.bindparam("b_key"))
        params = [{"b_key": row[key], **{c: row[c] for c in columns}} for row in rows]
        await conn.execute(stmt.execution_options(synchronize_session=False), params)
        return
    sql, convert = _update(conn.dialect, table, columns, key)
    await _executemany(raw, sql, [_values(row, (*columns, key), convert) for row in rows])


async def delete_by_id(conn: AsyncConnection, table: sa.Table, ids: Sequence[int]) -> None:
    """DELETE the rows of ``table`` whose ``id`` is one of ``ids``: in the transaction open on
    ``conn``, or on its own (it commits by itself) when none is. On Postgres one statement whose text
    does not depend on how many (``id = ANY($1)``, prepared once); elsewhere through Core."""
    raw = await raw_connection(conn, outside_transaction=True)
    if _is_asyncpg(raw):
        await raw.execute(f"DELETE FROM {table.name} WHERE id = ANY($1::bigint[])", list(ids))
    else:
        await conn.execute(sa.delete(table).where(table.c.id.in_(ids)))


async def raw_connection(conn: AsyncConnection, *, outside_transaction: bool = False) -> Any:
    """The driver connection under ``conn``: SQLite run inline (sqlite_inline.py), or asyncpg once the
    transaction SQLAlchemy began is open on it, so a statement never runs outside the transaction
    (``outside_transaction``: or whenever, for a statement of its own or a read); None otherwise
    (then Core runs the statement)."""
    driver = await driver_connection(conn)
    if isinstance(driver, sqlite_inline.Connection):
        return driver.sqlite
    if _is_asyncpg(driver) and (outside_transaction or driver.is_in_transaction()):
        return driver
    return None


def _is_asyncpg(driver: object) -> TypeGuard[Any]:
    """Whether ``driver`` is an asyncpg connection. asyncpg is not imported here: an embedded process
    (SQLite) never loads it, ~3 MB of its idle RSS, and an asyncpg connection exists only once it is."""
    module = sys.modules.get("asyncpg")
    return module is not None and isinstance(driver, module.Connection)


async def _executemany(raw: Any, sql: str, rows: list[list[Any]]) -> None:
    if isinstance(raw, sqlite3.Connection):
        raw.executemany(sql, rows)
    else:
        await raw.executemany(sql, rows)


async def raw_fetch(raw: Any, sql: str, values: Sequence[Any]) -> list[Any]:
    if isinstance(raw, sqlite3.Connection):
        return raw.execute(sql, values).fetchall()
    return list(await raw.fetch(sql, *values))


def _placeholders(dialect: Dialect, first: int, count: int) -> str:
    """``?, ?`` for SQLite, ``$3, $4`` for asyncpg."""
    if dialect.paramstyle == "qmark":
        return ", ".join("?" for _ in range(count))
    return ", ".join(f"${n}" for n in range(first, first + count))


def _values(row: Row, columns: Sequence[str], convert: Sequence[_Convert]) -> list[Any]:
    # Every value goes through its processor, None too (a JSON column stores None as 'null', as in Core).
    return [row[c] if f is None else f(row[c]) for c, f in zip(columns, convert, strict=True)]


@cache
def _converters(dialect: Dialect, table: sa.Table, columns: tuple[str, ...]) -> tuple[_Convert, ...]:
    out = []
    for c in columns:
        convert = cast(_Convert, table.c[c].type.dialect_impl(dialect).bind_processor(dialect))
        if convert is not None and isinstance(table.c[c].type, sa.DateTime | sa.Uuid):
            convert = _last_one(convert)
        out.append(convert)
    return tuple(out)


def _last_one(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` remembering its last value: a batch's rows share one timestamp (and often a job
    id), and SQLite's DATETIME processor formats each field in Python."""
    last: list[Any] = [object(), None]

    def memo(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return memo


@lru_cache(maxsize=512)  # keyed by the row count too: bounded, since counts vary with every batch
def _insert(
    dialect: Dialect, table: sa.Table, columns: tuple[str, ...], *, returning: bool, count: int = 1
) -> tuple[str, tuple[_Convert, ...]]:
    """``INSERT INTO table (columns) VALUES`` ``count`` rows, and the columns' converters."""
    q = dialect.identifier_preparer
    width = len(columns)
    rows = ", ".join(f"({_placeholders(dialect, 1 + i * width, width)})" for i in range(count))
    names = ", ".join(q.quote(c) for c in columns)
    sql = f"INSERT INTO {q.format_table(table)} ({names}) VALUES {rows}" + (
        " RETURNING id" if returning else ""
    )
    return sql, _converters(dialect, table, columns)


def _on_conflict_add(dialect: Dialect, columns: tuple[str, ...], keys: tuple[str, ...]) -> str:
    q = dialect.identifier_preparer
    added = ", ".join(
        f"{q.quote(c)} = t.{q.quote(c)} + excluded.{q.quote(c)}" for c in columns if c not in keys
    )
    return f"ON CONFLICT ({', '.join(q.quote(k) for k in keys)}) DO UPDATE SET {added}"


@cache
def _tally(
    dialect: Dialect, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[str, tuple[_Convert, ...]]:
    q = dialect.identifier_preparer
    names = ", ".join(q.quote(c) for c in columns)
    marks = _placeholders(dialect, 1, len(columns))
    conflict = _on_conflict_add(dialect, columns, keys)
    sql = f"INSERT INTO {q.format_table(table)} AS t ({names}) VALUES ({marks}) {conflict}"
    return sql, _converters(dialect, table, columns)


@cache
def _update(
    dialect: Dialect, table: sa.Table, columns: tuple[str, ...], key: str
) -> tuple[str, tuple[_Convert, ...]]:
    q = dialect.identifier_preparer
    marks = _placeholders(dialect, 1, len(columns) + 1).split(", ")
    sets = ", ".join(f"{q.quote(c)} = {m}" for c, m in zip(columns, marks, strict=False))
    sql = f"UPDATE {q.format_table(table)} SET {sets} WHERE {q.quote(key)} = {marks[-1]}"
    return sql, _converters(dialect, table, (*columns, key))

"""The hottest reads (``GET /jobs/{id}``, an SSE stream's job status), straight to the driver.

A SELECT through SQLAlchemy's async Core costs ~200 us of Python per execution (a greenlet switch
per call, statement cache lookup, parameter construction, result set-up): more than SQLite takes to
run ``GET /jobs/{id}``'s whole statement. ``fetch_all`` compiles a constant statement once per
dialect, binds its parameters with the column types' own processors, runs it on the driver's
connection (``sqlite3`` in embedded mode, ``asyncpg`` in distributed mode) and converts each result
column with its type's result processor, so rows hold exactly what Core would return (ADR 0013).
Any other driver goes through Core.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.writes import raw_connection, raw_fetch

_Convert = Callable[[Any], Any] | None


class _Compiled(NamedTuple):
    sql: str
    names: tuple[str, ...]  # each placeholder's parameter, in order
    constants: dict[str, Any]  # the statement's own bound values
    bind: Mapping[str, _Convert]
    row: type  # a named tuple of the result columns
    result: tuple[_Convert, ...]


async def fetch_all(conn: AsyncConnection, stmt: sa.Select[Any], params: Mapping[str, Any]) -> list[Any]:
    """The rows of ``stmt`` (a statement built once, at import) with ``params``: named tuples whose
    fields are the statement's column labels, holding what Core would return."""
    raw = await raw_connection(conn, outside_transaction=True)
    if raw is None:
        return list((await conn.execute(stmt, dict(params))).all())
    c = _compile(conn.dialect, stmt)
    values = []
    for name in c.names:
        value = params[name] if name in params else c.constants[name]
        convert = c.bind[name]
        values.append(value if convert is None else convert(value))
    found = await raw_fetch(raw, c.sql, values)
    return [
        c.row(*(v if f is None else f(v) for v, f in zip(record, c.result, strict=True))) for record in found
    ]


@cache
def _compile(dialect: Dialect, stmt: sa.Select[Any]) -> _Compiled:
    compiled = stmt.compile(dialect=dialect)
    expanding = [name for name, bind in compiled.binds.items() if bind.expanding]
    if expanding:  # Core rewrites those at every execution; write constant lists into the SQL instead
        raise ValueError(f"fetch_all cannot run IN over bound parameters ({expanding})")
    names = tuple(compiled.positiontup or ())
    bind = {
        name: compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in set(names)
    }
    columns = compiled._result_columns
    result = tuple(
        column[3].dialect_impl(dialect).result_processor(dialect, _type_code(column[3])) for column in columns
    )
    row = namedtuple("Row", [column[0] for column in columns], rename=True)  # type: ignore[misc]
    return _Compiled(compiled.string, names, dict(compiled.params), bind, row, result)


def _type_code(type_: Any) -> int | None:
    """The driver's code for a numeric result column (asyncpg's numeric processors need the Postgres
    type: float8 or numeric); None for everything else, which no processor looks at."""
    if isinstance(type_, sa.Float):
        return 701  # float8: what a Float column, and a sum over one, are
    if isinstance(type_, sa.Numeric):
        return 1700  # numeric
    return None

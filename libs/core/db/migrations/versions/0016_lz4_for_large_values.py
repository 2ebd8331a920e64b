"""lz4 for the columns that hold large values (Postgres)

Postgres compresses a value of more than ~2 KB before storing it out of line (TOAST), with pglz
unless the column names another method. The Orchestrator writes such values in its batch statement,
on the path from one task to the next:

- a task's output (a fetched page, a model's answer);
- the next task's dispatch, which carries its dependencies' outputs (an outbox row);
- the events that carry them;
- the plan and the event that lists its tasks.

On this project's machine, writing a 124 KB JSON value took 2.3 ms with pglz and 0.47 ms with lz4,
at the same size on disk (78 KB / 77 KB). lz4 also reads back faster. Only values written from now
on use it. A server built without lz4 keeps pglz. SQLite has no such setting.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LARGE = {
    "jobs": ("goal", "context_json", "submitted_plan"),
    "plans": ("spec",),
    "tasks": ("args", "output"),
    "events": ("data",),
    "outbox": ("payload",),
}


def _methods() -> set[str]:
    """The compression methods this server can use for a column (none: SQLite, or Postgres < 14)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return set()
    query = sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    return set(bind.execute(query).scalar() or ())


def _set(method: str) -> None:
    for table, columns in LARGE.items():
        for column in columns:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")


def upgrade() -> None:
    if "lz4" in _methods():
        _set("lz4")


def downgrade() -> None:
    if _methods():
        _set("default")  # the server's default_toast_compression (pglz unless configured)

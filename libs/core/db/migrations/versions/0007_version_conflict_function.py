"""Postgres: planwright_versions_held(expected, got), which aborts the statement it is in when not
every guarded job row was updated

An Orchestrator replica writes a batch of jobs whose state it holds in memory as one statement,
each job row updated only if its version is still the one the batch was computed from. If another
replica wrote one of those jobs in between, fewer rows are updated than guarded, and this function
raises SQLSTATE 40001 (serialization_failure), which rolls the whole statement back; the replica then
loads the jobs under a row lock and applies the batch again. See
docs/adr/0015-optimistic-orchestrator-writes-and-the-committers-own-feed.md. SQLite (one writer,
embedded mode) needs none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 19:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION planwright_versions_held(expected bigint, got bigint)
        RETURNS bigint LANGUAGE plpgsql AS $$
        BEGIN
            IF got <> expected THEN
                RAISE EXCEPTION 'planwright: % of % guarded job rows were written by another process',
                    expected - got, expected
                    USING ERRCODE = '40001';
            END IF;
            RETURN got;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS planwright_versions_held(bigint, bigint)")

"""a version per job, bumped by every Orchestrator write that changes the job or its tasks

An Orchestrator keeps the jobs it works on in memory between batches and reloads a job only when its
version moved (another replica wrote it); see services/api/orchestrator/cache.py.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("version")

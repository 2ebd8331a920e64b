"""a pinned job is kept by retention; finished jobs are found by when they finished

``RETENTION_DAYS`` deletes finished jobs (and everything under them) some days after they finished,
except the jobs a person pinned (``POST /jobs/{id}/pin``). The sweeper looks jobs up by
``finished_at``, hence the index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_jobs_finished", ["finished_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_finished")
        batch_op.drop_column("pinned")

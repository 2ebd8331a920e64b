"""the plan a job was submitted with (POST /jobs with "plan"), kept so a restart can resume it

A job submitted with an explicit plan never reaches the planner: its plan goes straight to the
Orchestrator. Until the plan is stored as version 1 in ``plans``, this column is what a restart
resumes the job from (docs/api.md#explicit-plans).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_plan", json_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("submitted_plan")

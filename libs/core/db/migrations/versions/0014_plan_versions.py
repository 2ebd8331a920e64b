"""replanning: why each plan version was made, the job's replan rounds, and a task key per version

A job whose task fails for good may be replanned (REPLAN_MAX_ROUNDS): the planner's next plan version
is stored in ``plans`` with ``reason`` (``task 'x' failed: ...``); ``jobs.replans`` counts the rounds
used. A task the new version replaces keeps its row (status ``superseded``) and the new one is a new
row with the same key and the new ``plan_version``, so a key is unique per plan version, not per job.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replans", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tasks_job_key", type_="unique")
        batch_op.create_unique_constraint("uq_tasks_job_key_version", ["job_id", "key", "plan_version"])


def downgrade() -> None:
    # Superseded rows would break the per-job key: they go first (their plans rows stay).
    op.execute("DELETE FROM tasks WHERE status = 'superseded'")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint("uq_tasks_job_key_version", type_="unique")
        batch_op.create_unique_constraint("uq_tasks_job_key", ["job_id", "key"])
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("replans")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("reason")

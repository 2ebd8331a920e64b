"""what a job's model calls cost so far, in US dollars, for the policy's job.max_cost_usd

Like ``tokens_used``: the Orchestrator adds each reported call's estimated cost (``llm_calls.cost_usd``,
from ``config/llm_prices.yaml``) when it stores the call, and stops the job once it is over its budget.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost_usd", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("cost_usd")

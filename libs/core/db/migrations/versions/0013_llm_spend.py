"""what model calls cost per tenant, UTC day and model, for budget.daily_cost_usd and GET /usage

The Orchestrator adds each stored call's tokens and cost to its tenant's row for the day in the same
write that stores the call (an upsert that adds: several API replicas never lose each other's spend).
A tenant's daily budget is checked against it, and ``GET /usage`` reads its days and models from it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 16:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "llm_spend",
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("unpriced_calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "day", "provider", "model", name="pk_llm_spend"),
    )
    op.create_index("ix_llm_spend_day", "llm_spend", ["day"], unique=False)
    # The calls stored before: their days' usage shows too.
    day = (
        "(c.created_at AT TIME ZONE 'UTC')::date"
        if op.get_bind().dialect.name == "postgresql"
        else "date(c.created_at)"
    )
    op.execute(
        "INSERT INTO llm_spend (tenant, day, provider, model, calls, unpriced_calls, input_tokens, "
        "output_tokens, cost_usd) "
        f"SELECT j.tenant, {day}, c.provider, c.model, count(*), "
        "sum(CASE WHEN c.cost_usd IS NULL THEN 1 ELSE 0 END), sum(c.input_tokens), sum(c.output_tokens), "
        "coalesce(sum(c.cost_usd), 0) FROM llm_calls c JOIN jobs j ON j.id = c.job_id "
        f"GROUP BY j.tenant, {day}, c.provider, c.model"
    )


def downgrade() -> None:
    op.drop_index("ix_llm_spend_day", table_name="llm_spend")
    op.drop_table("llm_spend")

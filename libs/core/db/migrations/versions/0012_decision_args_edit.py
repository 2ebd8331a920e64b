"""the args a person changed when approving a task: both versions, with the decision

``POST /tasks/{id}/approve`` with edited ``args`` records ``{"original": ..., "edited": ...}`` on its
``approved`` decision; null for every other decision.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("policy_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("args_edit", json_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policy_decisions", schema=None) as batch_op:
        batch_op.drop_column("args_edit")

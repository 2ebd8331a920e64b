"""tenants, API keys and the web UI's sessions, idempotency keys, and who decided an approval

Every job belongs to a tenant (the tenant of the API key that submitted it; "default" for jobs
submitted while the API runs open, including every job from before this revision). API keys are kept
as their SHA-256 only. POST /jobs remembers an Idempotency-Key per tenant for 24 hours. A person's
approval or rejection records the name of the key that made it. See docs/security.md.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant", sa.String(64), server_default="default", nullable=False))
        batch_op.create_index("ix_jobs_tenant_created", ["tenant", "created_at"])
    with op.batch_alter_table("policy_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by", sa.String(64), nullable=True))
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("sha256", name="uq_api_keys_sha256"),
        sa.UniqueConstraint("tenant", "name", name="uq_api_keys_tenant_name"),
    )
    op.create_table(
        "api_sessions",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name="fk_api_sessions_key_id_api_keys", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sha256", name="pk_api_sessions"),
    )
    op.create_index("ix_api_sessions_expires", "api_sessions", ["expires_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_idempotency_keys_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_api_sessions_expires", table_name="api_sessions")
    op.drop_table("api_sessions")
    op.drop_table("api_keys")
    with op.batch_alter_table("policy_decisions", schema=None) as batch_op:
        batch_op.drop_column("decided_by")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_tenant_created")
        batch_op.drop_column("tenant")

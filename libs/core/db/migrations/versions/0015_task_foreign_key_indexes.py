"""an index on every task_id that refers to tasks, and on the artifacts' content hash

Deleting a task (retention, RETENTION_DAYS) makes Postgres look for the rows that refer to it in
artifacts, critic_verdicts, policy_decisions and llm_calls (their foreign keys cascade): without an
index on ``task_id`` that is a scan of each whole table per deleted task. Retention also asks, per
content hash, whether any artifact still names it before deleting the file.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_IDS = ("artifacts", "critic_verdicts", "policy_decisions", "llm_calls")


def upgrade() -> None:
    for table in TASK_IDS:
        op.create_index(f"ix_{table}_task", table, ["task_id"], unique=False)
    op.create_index("ix_artifacts_sha256", "artifacts", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_artifacts_sha256", table_name="artifacts")
    for table in reversed(TASK_IDS):
        op.drop_index(f"ix_{table}_task", table_name=table)

"""Tables. The Orchestrator is the only writer of job and task state."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from planwright.core.states import TaskStatus

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("goal", sa.Text, nullable=False),
    sa.Column("context_json", JSON, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("plan_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    # When a retry last reopened the failed job: its runtime limit counts from here.
    sa.Column("reopened_at", TS),
    # Model tokens (input + output) the job's calls used: checked against the policy's job.max_tokens.
    sa.Column("tokens_used", sa.BigInteger, nullable=False, server_default="0"),
    # What its model calls cost so far (US dollars, estimated from the price table): job.max_cost_usd.
    sa.Column("cost_usd", sa.Float, nullable=False, server_default="0"),
    # The job's trace (null when tracing was off at submission): its id, and the W3C traceparent of
    # its root span (POST /jobs), the parent of what the Orchestrator starts for the job.
    sa.Column("trace_id", sa.String(32)),
    sa.Column("trace_parent", sa.String(64)),
    # Bumped by every Orchestrator write to the job or its tasks: a replica reloads a job it holds in
    # memory only when this moved (services/api/orchestrator/cache.py).
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    # Whose job: the tenant of the API key that submitted it ("default" when the API runs open).
    # Its tasks, events, artifacts, model calls and decisions are the tenant's through the job.
    sa.Column("tenant", sa.String(64), nullable=False, server_default="default"),
    # The plan of a job submitted with one (the planner is skipped); null for a goal's job.
    sa.Column("submitted_plan", JSON),
    # Kept by retention (RETENTION_DAYS) whatever its age: POST /jobs/{id}/pin.
    sa.Column("pinned", sa.Boolean, nullable=False, server_default=sa.false()),
    # Replan rounds used (REPLAN_MAX_ROUNDS): each request for a new plan version after a failure.
    sa.Column("replans", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_jobs_status_created", "status", "created_at"),
    sa.Index("ix_jobs_created", "created_at"),
    sa.Index("ix_jobs_finished", "finished_at"),
    sa.Index("ix_jobs_tenant_created", "tenant", "created_at"),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("planner", sa.String(32), nullable=False),
    sa.Column("spec", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # Why this version was made: null for the first; "task 'x' failed: ..." for a replan.
    sa.Column("reason", sa.Text),
)

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("plan_version", sa.Integer, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("tool", sa.String(64), nullable=False),
    sa.Column("args", JSON, nullable=False),
    sa.Column("depends_on", JSON, nullable=False),
    sa.Column("critic_required", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("reworks", sa.Integer, nullable=False, server_default="0"),
    # The attempt a person's retry started from (1 until then): automatic retries count from here.
    sa.Column("first_attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("output", JSON),
    sa.Column("error", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("started_at", TS),
    sa.Column("finished_at", TS),
    # A key is unique per plan version: a task a replan replaced stays (superseded) beside its successor.
    sa.UniqueConstraint("job_id", "key", "plan_version", name="uq_tasks_job_key_version"),
    sa.Index("ix_tasks_job_position", "job_id", "position"),
)

# A task of its job's live plan: the tasks a replan superseded are history (a literal, not a bound
# parameter, so the statements that use it stay the same text).
LIVE_TASK: sa.ColumnElement[bool] = tasks.c.status != sa.literal_column(f"'{TaskStatus.superseded.value}'")

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_id", sa.Uuid, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(127), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_artifacts_job", "job_id"),
    sa.Index("ix_artifacts_task", "task_id"),  # retention deletes tasks: the cascade finds these
    sa.Index("ix_artifacts_sha256", "sha256"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", BIGID, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("task_id", sa.Uuid),
    sa.Column("data", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_events_job_id", "job_id", "id"),
)

# Transactional outbox: a message is written here in the transaction that justifies it and put on the
# bus by the relay after commit (docs/adr/0003-transactional-outbox.md).
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BIGID, primary_key=True, autoincrement=True),
    sa.Column("stream", sa.String(128), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

# Every critic verdict and every policy decision, per task attempt, for the record and the API.
critic_verdicts = sa.Table(
    "critic_verdicts",
    metadata,
    sa.Column("id", BIGID, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_id", sa.Uuid, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reasons", JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_critic_verdicts_job", "job_id"),
    sa.Index("ix_critic_verdicts_task", "task_id"),  # retention deletes tasks: the cascade finds these
)

policy_decisions = sa.Table(
    "policy_decisions",
    metadata,
    sa.Column("id", BIGID, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_id", sa.Uuid, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    # Who approved or rejected (the API key's name); null for the gate's own decisions and open access.
    sa.Column("decided_by", sa.String(64)),
    # An approval with changed args: {"original": ..., "edited": ...}; null otherwise.
    sa.Column("args_edit", JSON),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_policy_decisions_job", "job_id"),
    sa.Index("ix_policy_decisions_task", "task_id"),  # retention deletes tasks: the cascade finds these
)

# Every metered model call (planner, text tools, critic), stored by the Orchestrator from the message
# that reported it; totals per task and per job come from here.
llm_calls = sa.Table(
    "llm_calls",
    metadata,
    sa.Column("id", BIGID, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_id", sa.Uuid, sa.ForeignKey("tasks.id", ondelete="CASCADE")),  # null: planning
    sa.Column("attempt", sa.Integer),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_llm_calls_job", "job_id"),
    sa.Index("ix_llm_calls_task", "task_id"),  # retention deletes tasks: the cascade finds these
)

# What model calls cost per tenant, UTC day and model: added to by the Orchestrator in the write that
# stores the calls (an upsert that adds, so replicas never lose each other's spend). The tenant's daily
# budget (budget.daily_cost_usd) is checked against it and GET /usage reads it; it outlives retention.
llm_spend = sa.Table(
    "llm_spend",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("calls", sa.BigInteger, nullable=False),
    sa.Column("unpriced_calls", sa.BigInteger, nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Index("ix_llm_spend_day", "day"),
)

# API keys (docs/security.md): only a key's SHA-256 is kept; the key itself is shown once, at creation.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("tenant", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("scopes", JSON, nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),  # the key's first characters, to tell keys apart
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("revoked_at", TS),
    sa.UniqueConstraint("tenant", "name", name="uq_api_keys_tenant_name"),
)

# Web UI sessions (POST /auth/session): the SHA-256 of the cookie's token, for a key, until it expires
# or the key is revoked.
api_sessions = sa.Table(
    "api_sessions",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.Uuid, sa.ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Index("ix_api_sessions_expires", "expires_at"),
)

# POST /jobs with an Idempotency-Key: the job the first request created, per tenant, for 24 hours.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("tenant", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_idempotency_keys_created", "created_at"),
)

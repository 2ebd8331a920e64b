"""In-memory view of the jobs one batch touches: loaded in two queries, written back as a diff."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core import ids
from planwright.core.db.schema import LIVE_TASK, jobs, tasks
from planwright.core.events import EventDraft, as_utc
from planwright.core.messages import Message
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.states import JobStatus, TaskStatus
from planwright.core.tracing import Span

if TYPE_CHECKING:
    from planwright.services.api.orchestrator.cache import JobCache

_TASK_FIELDS = (
    "status",
    "attempt",
    "first_attempt",
    "reworks",
    "output",
    "error",
    "updated_at",
    "started_at",
    "finished_at",
)


@dataclass
class TaskState:
    id: UUID
    key: str
    title: str
    tool: str
    args: dict[str, Any]
    depends_on: list[str]
    critic_required: bool
    status: TaskStatus
    description: str = ""
    attempt: int = 1
    first_attempt: int = 1  # where a person's retry restarted it; automatic retries count from here
    reworks: int = 0  # critic reworks since first_attempt
    output: dict[str, Any] | None = None
    error: str | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    dirty: bool = False

    @classmethod
    def of(cls, spec: TaskSpec) -> TaskState:
        """A new task of a plan (a first plan's or a replan's), pending."""
        return cls(
            id=ids.new_id(),
            key=spec.key,
            title=spec.title,
            description=spec.description,
            tool=spec.tool,
            args=spec.args,
            depends_on=list(spec.depends_on),
            critic_required=spec.critic_required,
            status=TaskStatus.pending,
        )

    def summary(self) -> dict[str, Any]:
        """The task as plan.created and plan.replanned list it."""
        return {
            "id": str(self.id),
            "key": self.key,
            "title": self.title,
            "tool": self.tool,
            "depends_on": self.depends_on,
        }

    def values(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _TASK_FIELDS}

    @property
    def retries_used(self) -> int:
        """Automatic retries after a failure so far (reworks asked by the critic do not count)."""
        return self.attempt - self.first_attempt - self.reworks


@dataclass
class JobState:
    id: UUID
    goal: str
    priority: int
    status: JobStatus
    error: str | None
    plan_version: int
    context: dict[str, Any] = field(default_factory=dict)
    submitted_plan: PlanSpec | None = None  # POST /jobs with a plan: it is resumed from here
    tasks: dict[str, TaskState] = field(default_factory=dict)  # in plan order
    finished_at: datetime | None = None
    reopened_at: datetime | None = None
    tokens_used: int = 0
    cost_usd: float = 0.0  # what its stored model calls cost (job.max_cost_usd)
    tenant: str = "default"  # whose job: its tenant's daily budget applies
    replans: int = 0  # replan rounds used (REPLAN_MAX_ROUNDS)
    created_at: datetime | None = None
    trace_parent: str | None = None  # the root span of the job's trace (W3C traceparent), if traced
    version: int = 0  # jobs.version as loaded or last written by this process
    # The id of the job's newest event, when this process wrote it (None: loaded, not known). Every
    # write of events moves ``version``, so while the version holds, so does this.
    last_event: int | None = None
    dirty: bool = False
    new_tasks: list[tuple[int, TaskState]] = field(default_factory=list)  # (position, task)
    # Tasks a new plan version superseded: out of ``tasks`` (the live plan), their rows still to write.
    retired: list[TaskState] = field(default_factory=list)
    # ``tasks`` by id, for the messages that name a task (every result): built when a look-up misses,
    # and checked against ``tasks`` at each hit, so a plan that changed is never answered from it.
    _by_id: dict[UUID, TaskState] = field(default_factory=dict, repr=False, compare=False)

    @property
    def trace(self) -> dict[str, str]:
        """The job's root span as a W3C carrier (empty when the job was not traced)."""
        return {"traceparent": self.trace_parent} if self.trace_parent else {}

    def task_by_id(self, task_id: UUID) -> TaskState | None:
        """The live plan's task with that id (None if the plan has none: unknown, or superseded)."""
        t = self._by_id.get(task_id)
        if t is not None and self.tasks.get(t.key) is t:
            return t
        self._by_id = {t.id: t for t in self.tasks.values()}
        return self._by_id.get(task_id)

    def changed(self) -> bool:
        return (
            self.dirty
            or bool(self.new_tasks)
            or bool(self.retired)
            or any(t.dirty for t in self.tasks.values())
        )

    def settle(self) -> None:
        """After a commit: what was written is no longer a change."""
        self.dirty = False
        self.new_tasks.clear()
        self.retired.clear()
        for t in self.tasks.values():
            t.dirty = False


@dataclass
class Changes:
    """What one batch produced: events to append, messages for the outbox, artifact rows."""

    now: datetime
    events: list[EventDraft] = field(default_factory=list)
    outbox: list[tuple[str, Message]] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: list[dict[str, Any]] = field(default_factory=list)
    # llm_spend rows to add to, one per (tenant, UTC day, provider, model) (orchestrator/money.py).
    spend: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    # Metrics to count once the transaction commits (a rolled-back batch counts nothing).
    metrics: list[Callable[[], None]] = field(default_factory=list)
    # Spans begun for this batch, ended (and so exported) once it commits; a rolled-back batch's
    # spans are never ended, so they never show.
    spans: list[Span] = field(default_factory=list)


async def load_jobs(
    conn: AsyncConnection,
    job_ids: Iterable[UUID],
    cache: JobCache | None = None,
    *,
    sole_writer: bool = False,
    optimistic: bool = False,
) -> dict[UUID, JobState]:
    """Lock and load the jobs (rows locked until commit on Postgres, so replicas serialise per job).

    With a ``cache``, a cached job whose version is still the one in the database is used as it is;
    a ``sole_writer`` (no other process writes these rows) uses cached jobs without asking, and so
    does an ``optimistic`` batch, whose write then checks each job's version (``write_together``'s
    guard) and is applied again under the lock if one moved.
    """
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    states: dict[UUID, JobState] = {}
    missing = ids
    if cache is not None:
        if sole_writer or optimistic:
            current = {i: cache.get(i) for i in ids}
        else:
            rows = await conn.execute(_LOCK_VERSIONS, {"ids": ids})
            current = {}
            for r in rows:
                if (c := cache.get(r.id)) is not None:
                    if c.version == r.version:
                        current[r.id] = c
                    else:
                        cache.written_elsewhere()
        states = {i: c for i, c in current.items() if c is not None}
        missing = [i for i in ids if i not in states]
    if missing:
        states.update(await _load(conn, missing))
    return states


_LOCK_VERSIONS = (
    sa.select(jobs.c.id, jobs.c.version)
    .where(jobs.c.id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(jobs.c.id)
    .with_for_update()
)


async def _load(conn: AsyncConnection, ids: list[UUID]) -> dict[UUID, JobState]:
    job_rows = await conn.execute(
        sa.select(jobs).where(jobs.c.id.in_(ids)).order_by(jobs.c.id).with_for_update()
    )
    states = {
        r.id: JobState(
            id=r.id,
            goal=r.goal,
            priority=r.priority,
            status=JobStatus(r.status),
            error=r.error,
            plan_version=r.plan_version,
            context=r.context_json,
            submitted_plan=PlanSpec.model_validate(r.submitted_plan) if r.submitted_plan else None,
            finished_at=r.finished_at,
            reopened_at=as_utc(r.reopened_at) if r.reopened_at else None,
            tokens_used=r.tokens_used,
            cost_usd=r.cost_usd,
            tenant=r.tenant,
            replans=r.replans,
            created_at=as_utc(r.created_at),
            trace_parent=r.trace_parent,
            version=r.version,
        )
        for r in job_rows
    }
    # The live plan only: a superseded task (replaced by a later plan version) is history.
    task_rows = await conn.execute(
        sa.select(tasks).where(tasks.c.job_id.in_(ids), LIVE_TASK).order_by(tasks.c.job_id, tasks.c.position)
    )
    for r in task_rows:
        states[r.job_id].tasks[r.key] = TaskState(
            id=r.id,
            key=r.key,
            title=r.title,
            description=r.description,
            tool=r.tool,
            args=r.args,
            depends_on=list(r.depends_on),
            critic_required=r.critic_required,
            status=TaskStatus(r.status),
            attempt=r.attempt,
            first_attempt=r.first_attempt,
            reworks=r.reworks,
            output=r.output,
            error=r.error,
            updated_at=r.updated_at,
            started_at=as_utc(r.started_at) if r.started_at else None,
            finished_at=r.finished_at,
        )
    return states


Rows = list[dict[str, Any]]


def changed_rows(states: Iterable[JobState], now: datetime) -> tuple[Rows, Rows, Rows]:
    """What changed, as rows: (new tasks to insert, jobs to update, tasks to update). Every changed
    job's version moves on, so other replicas reload it."""
    job_updates: list[dict[str, Any]] = []
    task_inserts: list[dict[str, Any]] = []
    task_updates: list[dict[str, Any]] = []
    for job in states:
        if job.changed():
            job.version += 1  # every write moves it, so other replicas reload the job
            job_updates.append(
                {
                    "id": job.id,
                    "version": job.version,
                    "status": job.status.value,
                    "error": job.error,
                    "plan_version": job.plan_version,
                    "updated_at": now,
                    "finished_at": job.finished_at,
                    "reopened_at": job.reopened_at,
                    "tokens_used": job.tokens_used,
                    "cost_usd": job.cost_usd,
                    "replans": job.replans,
                }
            )
        new_ids = {t.id for _, t in job.new_tasks}
        for position, t in job.new_tasks:
            task_inserts.append(
                {
                    "id": t.id,
                    "job_id": job.id,
                    "plan_version": job.plan_version,
                    "position": position,
                    "key": t.key,
                    "title": t.title,
                    "description": t.description,
                    "tool": t.tool,
                    "args": t.args,
                    "depends_on": t.depends_on,
                    "critic_required": t.critic_required,
                    "created_at": now,
                    **t.values(),
                    "updated_at": now,
                }
            )
        task_updates.extend(
            {"id": t.id, **t.values(), "updated_at": now}
            for t in (*job.tasks.values(), *job.retired)
            if t.dirty and t.id not in new_ids
        )
    return task_inserts, job_updates, task_updates

"""Read side of the API: plain queries, no state changes (those go through the Orchestrator)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.core.db.reads import fetch_all
from planwright.core.db.schema import (
    LIVE_TASK,
    artifacts,
    critic_verdicts,
    jobs,
    llm_calls,
    plans,
    policy_decisions,
    tasks,
)
from planwright.core.errors import NotFound
from planwright.core.events import as_utc
from planwright.core.states import JOB_TERMINAL, JobStatus, TaskStatus
from planwright.services.api import schemas

_RUNNING = (TaskStatus.queued.value, TaskStatus.running.value, TaskStatus.reviewing.value)
_FAILED = (TaskStatus.failed.value, TaskStatus.blocked.value)
# A job as the API shows it: not the plan it was submitted with (that is the plans row's to show,
# and may be large).
# jobs.cost_usd under its own name: the usage aggregates have a cost_usd of their own.
JOB_COLUMNS = (
    *(c for c in jobs.c if c.name not in ("submitted_plan", "cost_usd")),
    jobs.c.cost_usd.label("job_cost_usd"),
)


def _ts(row: Row[Any], *cols: str) -> dict[str, Any]:
    return {c: as_utc(getattr(row, c)) if getattr(row, c) is not None else None for c in cols}


def _count_columns() -> tuple[sa.ColumnElement[Any], ...]:
    """Task counts over the rows selected from ``tasks``, named as ``TaskCounts`` fields."""
    s = tasks.c.status

    def share(condition: sa.ColumnElement[bool], name: str) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0).label(name)

    return (
        share(LIVE_TASK, "total"),  # the live plan's tasks: not those a replan replaced
        share(s == TaskStatus.succeeded.value, "succeeded"),
        share(_one_of(s, _FAILED), "failed"),
        share(_one_of(s, _RUNNING), "running"),
    )


def _one_of(column: sa.ColumnElement[str], values: Iterable[str]) -> sa.ColumnElement[bool]:
    """``column IN ('a', 'b')`` with the (fixed, known) values written into the SQL: an IN over bound
    parameters is expanded at every execution, which cost GET /jobs/{id} ~90 us."""
    return column.in_([sa.literal_column(f"'{value}'") for value in values])


def _counts_of(row: Row[Any]) -> schemas.TaskCounts:
    return schemas.TaskCounts(
        total=row.total, succeeded=row.succeeded, failed=row.failed, running=row.running
    )


async def _counts(conn: AsyncConnection, job_ids: list[UUID]) -> dict[UUID, schemas.TaskCounts]:
    query = (
        sa.select(tasks.c.job_id, *_count_columns())
        .where(tasks.c.job_id.in_(job_ids))
        .group_by(tasks.c.job_id)
    )
    out = {j: schemas.TaskCounts(total=0, succeeded=0, failed=0, running=0) for j in job_ids}
    for row in await conn.execute(query):
        out[row.job_id] = _counts_of(row)
    return out


_MOCK_CALL = llm_calls.c.provider == sa.literal_column("'mock'")


def _usage_columns() -> tuple[sa.ColumnElement[Any], ...]:
    """Model-call totals over the rows selected from ``llm_calls``, named as ``UsageOut`` fields."""
    c = llm_calls.c
    return (
        sa.func.count().label("calls"),
        sa.func.coalesce(sa.func.sum(c.input_tokens), 0).label("input_tokens"),
        sa.func.coalesce(sa.func.sum(c.output_tokens), 0).label("output_tokens"),
        sa.func.coalesce(sa.func.sum(c.cost_usd), 0.0).label("cost_usd"),
        sa.func.coalesce(sa.func.sum(sa.case((c.cost_usd.is_(None), 1), else_=0)), 0).label("unpriced_calls"),
        sa.func.coalesce(sa.func.sum(sa.case((_MOCK_CALL, 1), else_=0)), 0).label("mock_calls"),
    )


def _usage_of(row: Row[Any]) -> schemas.UsageOut:
    return schemas.UsageOut(
        calls=row.calls,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=round(row.cost_usd, 6),
        unpriced_calls=row.unpriced_calls,
        mock_calls=row.mock_calls,
    )


async def _usage(
    conn: AsyncConnection, key: sa.Column[Any], where: sa.ColumnElement[bool]
) -> dict[Any, schemas.UsageOut]:
    """Model-call totals grouped by ``key`` (a job or a task id) over the rows ``where`` selects."""
    query = sa.select(key.label("key"), *_usage_columns()).where(where).group_by(key)
    return {row.key: _usage_of(row) for row in await conn.execute(query)}


async def list_llm_calls(conn: AsyncConnection, job_id: UUID, tenant: str | None) -> list[schemas.LLMCallOut]:
    await job_status(conn, job_id, tenant)
    rows = await conn.execute(
        sa.select(llm_calls).where(llm_calls.c.job_id == job_id).order_by(llm_calls.c.id)
    )
    return [schemas.LLMCallOut(**{**r._mapping, **_ts(r, "created_at")}) for r in rows]


def trace_url(jaeger_url: str | None, trace_id: str | None) -> str | None:
    """The trace's page in Jaeger's UI, when both are known."""
    return f"{jaeger_url.rstrip('/')}/trace/{trace_id}" if jaeger_url and trace_id else None


def _job(
    row: Row[Any], counts: schemas.TaskCounts, usage: schemas.UsageOut | None, jaeger_url: str | None
) -> dict[str, Any]:
    return {
        "trace_id": row.trace_id,
        "trace_url": trace_url(jaeger_url, row.trace_id),
        "id": row.id,
        "goal": row.goal,
        "context_json": row.context_json,
        "priority": row.priority,
        "status": row.status,
        "error": row.error,
        "tasks": counts,
        "usage": usage or schemas.UsageOut(),
        "cost_usd": round(row.job_cost_usd, 6),
        "pinned": row.pinned,
        **_ts(row, "created_at", "updated_at", "finished_at"),
    }


async def list_jobs(
    conn: AsyncConnection,
    *,
    status: JobStatus | None,
    limit: int,
    offset: int,
    jaeger_url: str | None = None,
    tenant: str | None = None,
) -> schemas.JobPage:
    """A page of jobs, newest first: ``tenant``'s, or every tenant's when None (an open API)."""
    query = (
        sa.select(*JOB_COLUMNS).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit + 1).offset(offset)
    )
    if status is not None:
        query = query.where(jobs.c.status == status.value)
    if tenant is not None:
        query = query.where(jobs.c.tenant == tenant)
    rows = (await conn.execute(query)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [r.id for r in rows]
    counts = await _counts(conn, ids)
    usage = await _usage(conn, llm_calls.c.job_id, llm_calls.c.job_id.in_(ids))
    return schemas.JobPage(
        items=[schemas.JobOut(**_job(r, counts[r.id], usage.get(r.id), jaeger_url)) for r in rows],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


# GET /jobs/{id} in one statement, built once: the job, its task counts and model usage (aggregates
# of one job, so one row each), and its current plan.
_JOB_ID = sa.bindparam("job_id", type_=sa.Uuid)
_ONE_JOB_COUNTS = sa.select(*_count_columns()).where(tasks.c.job_id == _JOB_ID).subquery()
_ONE_JOB_USAGE = sa.select(*_usage_columns()).where(llm_calls.c.job_id == _JOB_ID).subquery()
_CURRENT_PLAN = (plans.c.job_id == jobs.c.id) & (plans.c.version == jobs.c.plan_version)
_JOB_DETAIL = (
    sa.select(
        *JOB_COLUMNS,
        _ONE_JOB_COUNTS,
        _ONE_JOB_USAGE,
        plans.c.version.label("plan_version_found"),
        plans.c.planner.label("plan_planner"),
        plans.c.spec.label("plan_spec"),
        plans.c.created_at.label("plan_created_at"),
    )
    .select_from(
        jobs.outerjoin(plans, _CURRENT_PLAN).join(_ONE_JOB_COUNTS, sa.true()).join(_ONE_JOB_USAGE, sa.true())
    )
    .where(jobs.c.id == _JOB_ID)
)


async def get_job(
    conn: AsyncConnection, job_id: UUID, jaeger_url: str | None = None, tenant: str | None = None
) -> schemas.JobDetail:
    """The job, if it is ``tenant``'s (any tenant's when None): another tenant's job is not found."""
    found = await fetch_all(conn, _JOB_DETAIL, {"job_id": job_id})
    if not found or (tenant is not None and found[0].tenant != tenant):
        raise NotFound(f"job {job_id} not found")
    row = found[0]
    plan = None
    if row.plan_version_found is not None:
        plan = schemas.PlanOut(
            version=row.plan_version_found,
            planner=row.plan_planner,
            created_at=as_utc(row.plan_created_at),
            tasks=[schemas.PlanTask.model_validate(t, strict=False) for t in row.plan_spec["tasks"]],
        )
    result = None
    if row.status in JOB_TERMINAL and row.plan_spec is not None:
        result = _RESULTS.get((job_id, row.version))
        if result is None:
            result = await _result(conn, job_id, row.plan_spec["tasks"])
            _RESULTS.put((job_id, row.version), result)
    detail = _job(row, _counts_of(row), _usage_of(row), jaeger_url)
    return schemas.JobDetail(**detail, plan=plan, result=result)


class _Results:
    """Finished jobs' results by (job id, version), the most recently read kept. A result changes only
    with its job's version (every Orchestrator write that changes a job or its tasks bumps it: a retry
    that reopens the job, say), so a finished job read again and again (a page left open, a client
    polling) costs its two queries once per process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[UUID, int], schemas.JobResult] = OrderedDict()

    def get(self, key: tuple[UUID, int]) -> schemas.JobResult | None:
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    def put(self, key: tuple[UUID, int], result: schemas.JobResult) -> None:
        self._kept[key] = result
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)

    def forget(self, job_ids: Iterable[UUID]) -> None:
        gone = set(job_ids)
        for key in [key for key in self._kept if key[0] in gone]:
            del self._kept[key]


_RESULTS = _Results(1024)


def forget_results(job_ids: Iterable[UUID]) -> None:
    """Drop deleted jobs' results (retention): not needed for correctness, as a result is only served
    with its job's row, but their memory is better spent on jobs that exist."""
    _RESULTS.forget(job_ids)


_MOCK_CALLS_OF_TASK = (
    sa.select(sa.func.count())
    .where((llm_calls.c.task_id == tasks.c.id) & _MOCK_CALL)
    .correlate(tasks)
    .scalar_subquery()
)
_RESULT_TASKS = sa.select(
    tasks.c.key,
    tasks.c.title,
    tasks.c.tool,
    tasks.c.status,
    tasks.c.output,
    _MOCK_CALLS_OF_TASK.label("mock_calls"),
).where((tasks.c.job_id == _JOB_ID) & LIVE_TASK)
# Each succeeded task's artifacts of its last attempt: what a rework replaced is not the result.
_RESULT_ARTIFACTS = (
    sa.select(artifacts)
    .join(tasks, (tasks.c.id == artifacts.c.task_id) & (tasks.c.attempt == artifacts.c.attempt))
    .where(
        (artifacts.c.job_id == _JOB_ID) & (tasks.c.status == sa.literal_column(f"'{TaskStatus.succeeded}'"))
    )
    .order_by(artifacts.c.created_at, artifacts.c.name)
)


async def _result(conn: AsyncConnection, job_id: UUID, plan_tasks: list[dict[str, Any]]) -> schemas.JobResult:
    """A finished job's result: the outputs of its final tasks (those no task depends on) and its
    artifacts."""
    needed = {dep for task in plan_tasks for dep in task.get("depends_on", [])}
    order = [task["key"] for task in plan_tasks if task["key"] not in needed]
    final_keys = set(order)
    rows = {r.key: r for r in await fetch_all(conn, _RESULT_TASKS, {"job_id": job_id}) if r.key in final_keys}
    final = [_result_task(rows[key]) for key in order if key in rows]
    texts = [task for task in final if task.text]
    if len(texts) == 1:
        text: str | None = texts[0].text
    else:
        text = "\n\n".join(f"## {task.title}\n\n{task.text}" for task in texts) or None
    found = await fetch_all(conn, _RESULT_ARTIFACTS, {"job_id": job_id})
    return schemas.JobResult(text=text, tasks=final, artifacts=[_artifact(r) for r in found])


def _result_task(row: Row[Any]) -> schemas.ResultTask:
    output = row.output
    text = output.get("text") if isinstance(output, dict) else None
    return schemas.ResultTask(
        key=row.key,
        title=row.title,
        tool=row.tool,
        status=row.status,
        output=output,
        text=text.strip() if isinstance(text, str) else None,
        mock=bool(row.mock_calls),
    )


_JOB_STATUS = sa.select(jobs.c.status, jobs.c.tenant).where(jobs.c.id == _JOB_ID)


async def job_status(conn: AsyncConnection, job_id: UUID, tenant: str | None) -> JobStatus:
    """The job's status; NotFound if there is no such job, or it is not ``tenant``'s (when given)."""
    found = await fetch_all(conn, _JOB_STATUS, {"job_id": job_id})
    if not found or (tenant is not None and found[0].tenant != tenant):
        raise NotFound(f"job {job_id} not found")
    return JobStatus(found[0].status)


async def task_job(conn: AsyncConnection, task_id: UUID, tenant: str | None) -> UUID:
    """The job of a task; NotFound if there is no such task, or its job is not ``tenant``'s."""
    row = (
        await conn.execute(
            sa.select(jobs.c.id, jobs.c.tenant)
            .join(tasks, tasks.c.job_id == jobs.c.id)
            .where(tasks.c.id == task_id)
        )
    ).first()
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"task {task_id} not found")
    job_id: UUID = row.id
    return job_id


async def tenants_of(conn: AsyncConnection, job_ids: Iterable[UUID]) -> dict[UUID, str]:
    rows = await conn.execute(sa.select(jobs.c.id, jobs.c.tenant).where(jobs.c.id.in_(list(job_ids))))
    return {r.id: r.tenant for r in rows}


async def list_tasks(conn: AsyncConnection, job_id: UUID, tenant: str | None = None) -> list[schemas.TaskOut]:
    await job_status(conn, job_id, tenant)
    rows = await conn.execute(sa.select(tasks).where(tasks.c.job_id == job_id).order_by(tasks.c.position))
    verdicts = await _by_task(conn, critic_verdicts, job_id)
    decisions = await _by_task(conn, policy_decisions, job_id)
    usage = await _usage(conn, llm_calls.c.task_id, llm_calls.c.job_id == job_id)
    out = []
    for r in rows:
        data = {c: getattr(r, c) for c in schemas.TaskOut.model_fields if hasattr(r, c)}
        data.update(_ts(r, "created_at", "updated_at", "started_at", "finished_at"))
        data["verdicts"] = verdicts.get(r.id, [])
        data["policy_decisions"] = decisions.get(r.id, [])
        data["usage"] = usage.get(r.id, schemas.UsageOut())
        out.append(schemas.TaskOut(**data))
    return out


async def _by_task(conn: AsyncConnection, table: sa.Table, job_id: UUID) -> dict[UUID, list[dict[str, Any]]]:
    """A job's rows of ``table`` (verdicts or decisions), grouped by task, oldest first."""
    grouped: dict[UUID, list[dict[str, Any]]] = {}
    for r in await conn.execute(sa.select(table).where(table.c.job_id == job_id).order_by(table.c.id)):
        row = dict(r._mapping)
        row["created_at"] = as_utc(row["created_at"])
        grouped.setdefault(row["task_id"], []).append(row)
    return grouped


def _artifact(r: Row[Any]) -> schemas.ArtifactOut:
    return schemas.ArtifactOut(
        id=r.id,
        job_id=r.job_id,
        task_id=r.task_id,
        attempt=r.attempt,
        name=r.name,
        sha256=r.sha256,
        size=r.size,
        media_type=r.media_type,
        created_at=as_utc(r.created_at),
        content_url=f"/artifacts/{r.id}/content",
    )


async def list_artifacts(
    conn: AsyncConnection, job_id: UUID, tenant: str | None
) -> list[schemas.ArtifactOut]:
    await job_status(conn, job_id, tenant)
    rows = await conn.execute(
        sa.select(artifacts)
        .where(artifacts.c.job_id == job_id)
        .order_by(artifacts.c.created_at, artifacts.c.name)
    )
    return [_artifact(r) for r in rows]


async def get_artifact(conn: AsyncConnection, artifact_id: UUID, tenant: str | None) -> schemas.ArtifactOut:
    """The artifact, if its job is ``tenant``'s (any tenant's when None)."""
    query = sa.select(artifacts, jobs.c.tenant).join(jobs, jobs.c.id == artifacts.c.job_id)
    row = (await conn.execute(query.where(artifacts.c.id == artifact_id))).first()
    if row is None or (tenant is not None and row.tenant != tenant):
        raise NotFound(f"artifact {artifact_id} not found")
    return _artifact(row)

"""Jobs and their tasks."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, TypeAdapter

from planwright.core import ids, retention
from planwright.core.errors import NotFound
from planwright.core.states import JobStatus
from planwright.services.api import idempotency, limits, plan_history, plans, queries, schemas
from planwright.services.api.auth import tenant_of
from planwright.services.api.deps import ConnDep, RuntimeDep, runtime_of
from planwright.services.api.direct_routes import Handler, json_body, uuid_in_path
from planwright.services.api.orchestrator.intake import NewJob
from planwright.services.api.routes import events
from planwright.services.runtime import Runtime

router = APIRouter(tags=["jobs"])
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": schemas.ErrorOut},
    422: {"model": schemas.ErrorOut},
}


def _json(model: BaseModel, status_code: int = 200) -> Response:
    """``model`` as the response, serialised once by pydantic. FastAPI would validate it against the
    route's ``response_model`` again and go through a dict and ``json.dumps``; the model already is
    that type, so the hot routes skip that (the OpenAPI schema still comes from ``response_model``)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


# Read from the request by the route itself (a FastAPI Header parameter costs every POST /jobs), and
# described here for the OpenAPI schema.
_IDEMPOTENCY_KEY = {
    "name": "idempotency-key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "title": "Idempotency-Key"},
    "description": "Send the same key again (within 24 h) to get the first job back (200) instead of a "
    "second job; the same key with another body is a 422.",
}


@router.post(
    "/jobs",
    status_code=201,
    response_model=schemas.JobDetail,
    responses={
        **_ERRORS,
        200: {"model": schemas.JobDetail, "description": "A repeat (Idempotency-Key)."},
        # Described, not listed as a second content type: typed clients would get a union for the
        # common case.
        201: {
            "description": "The job. With `Accept: text/event-stream`: its events instead "
            "(`text/event-stream`, as `GET /jobs/{id}/events` streams them; `Location`: the job).",
        },
        403: {"model": schemas.ErrorOut, "description": "Its events were asked for without `jobs:read`."},
        503: {"model": schemas.ErrorOut, "description": "`too_many_streams` (its events were asked for)."},
    },
    openapi_extra={"parameters": [_IDEMPOTENCY_KEY]},
)
async def create_job(body: schemas.JobCreate, request: Request) -> Response:
    """Submit a goal, or a plan (docs/api.md#explicit-plans). The job is stored before the answer;
    planning (or, for a plan, its first tasks) starts right after."""
    runtime = runtime_of(request)
    if body.context_json:
        limits.check_context_size(body.context_json, runtime.settings.context_max_bytes)
    goal = body.goal or ""  # the schema asks for a goal, a plan or both
    if body.plan is not None:
        plans.check_submitted(runtime, body.plan, body.max_tasks)
        goal = goal or plans.goal_of(body.plan)
    tenant = tenant_of(request) or idempotency.OPEN_TENANT
    stream: events.SubmitStream | None = None
    if events.wants_events(request):
        opened = events.SubmitStream.of(request)
        if isinstance(opened, Response):
            return opened  # 503: no room for another stream (and no job made)
        stream = opened
    try:
        return await _create(runtime, request, body, goal, tenant, stream)
    except BaseException:
        if stream is not None:
            stream.release()  # nothing streamed (released once, however often this is called)
        raise


async def _create(
    runtime: Runtime,
    request: Request,
    body: schemas.JobCreate,
    goal: str,
    tenant: str,
    stream: events.SubmitStream | None,
) -> Response:
    """The job made (or, for a repeated Idempotency-Key, found), answered as JSON or as its events."""
    key = request.headers.get("idempotency-key")
    remember = None
    if key is not None:
        existing, remember = await idempotency.lookup(runtime, tenant, key, body)
        if existing is not None:
            return await stream.existing(existing.id) if stream else _json(existing, 200)
    job_id = ids.new_id()

    async def store() -> NewJob:
        return await runtime.orchestrator.submit_job(
            goal,
            body.context_json,
            body.priority,
            tenant=tenant,
            idempotency=remember,
            plan=body.plan,
            job_id=job_id,
        )

    try:
        if stream is not None:
            return await stream.new(job_id, store)
        job = await store()
    except Exception:
        if key is None:
            raise
        # The same key, sent twice at once: the other request's job won the key.
        existing, _ = await idempotency.lookup(runtime, tenant, key, body)
        if existing is None:
            raise
        return await stream.existing(existing.id) if stream else _json(existing, 200)
    # The job as committed: nothing but the Orchestrator has touched it yet, so no need to read it back.
    detail = schemas.JobDetail(
        id=job.id,
        goal=job.goal,
        context_json=job.context,
        priority=job.priority,
        status=JobStatus.pending,
        error=None,
        created_at=job.created_at,
        updated_at=job.created_at,
        finished_at=None,
        tasks=schemas.TaskCounts(total=0, succeeded=0, failed=0, running=0),
        trace_id=job.trace_id,
        trace_url=queries.trace_url(runtime.settings.jaeger_url, job.trace_id),
        plan=None,
    )
    return _json(detail, 201)


@router.get("/jobs", response_model=schemas.JobPage, responses=_ERRORS)
async def list_jobs(
    conn: ConnDep,
    runtime: RuntimeDep,
    request: Request,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=limits.MAX_OFFSET)] = 0,
) -> schemas.JobPage:
    """Newest first; ``next_offset`` is null on the last page."""
    return await queries.list_jobs(
        conn,
        status=status,
        limit=limit,
        offset=offset,
        jaeger_url=runtime.settings.jaeger_url,
        tenant=tenant_of(request),
    )


@router.get("/jobs/{job_id}", response_model=schemas.JobDetail, responses=_ERRORS)
async def get_job(job_id: UUID, request: Request) -> Response:
    """The job with its task counts, model usage and cost (and budget), current plan and trace."""
    runtime = runtime_of(request)
    jaeger_url, tenant = runtime.settings.jaeger_url, tenant_of(request)
    detail = await runtime.reads.run(lambda conn: queries.get_job(conn, job_id, jaeger_url, tenant))
    if (budget := runtime.orchestrator.applier.max_cost_usd()) is not None:
        detail.budget_usd = budget[0]
    return _json(detail)


_JOB_CREATE = TypeAdapter(schemas.JobCreate)


async def _create_direct(request: Request) -> Response:
    return await create_job(await json_body(request, _JOB_CREATE), request)


# Called past the router (direct_routes.py): POST /jobs, every job's first request, and GET /jobs/{id},
# the read a polling client repeats.
DIRECT: dict[str, Handler] = {
    "POST /jobs": _create_direct,
    "GET /jobs/{job_id}": lambda request: get_job(uuid_in_path(request, "job_id"), request),
}


@router.get("/jobs/{job_id}/tasks", response_model=list[schemas.TaskOut], responses=_ERRORS)
async def list_tasks(job_id: UUID, conn: ConnDep, request: Request) -> list[schemas.TaskOut]:
    """The job's tasks in plan order, with status, attempt, output and error."""
    return await queries.list_tasks(conn, job_id, tenant_of(request))


@router.get("/jobs/{job_id}/plans", response_model=list[schemas.PlanVersionOut], responses=_ERRORS)
async def list_plans(job_id: UUID, conn: ConnDep, request: Request) -> list[schemas.PlanVersionOut]:
    """The job's plan versions, oldest first: who made each (planner) and why (reason: the failure
    that led to a replan), its tasks, and its diff against the version before (docs/api.md)."""
    return await plan_history.list_plans(conn, job_id, tenant_of(request))


@router.get("/jobs/{job_id}/llm-calls", response_model=list[schemas.LLMCallOut], responses=_ERRORS)
async def list_llm_calls(job_id: UUID, conn: ConnDep, request: Request) -> list[schemas.LLMCallOut]:
    """Every model call of the job (planning, tools, critic), oldest first: tokens, latency, cost."""
    return await queries.list_llm_calls(conn, job_id, tenant_of(request))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=schemas.JobDetail,
    responses={**_ERRORS, 409: {"model": schemas.ErrorOut}},
)
async def cancel_job(job_id: UUID, runtime: RuntimeDep, request: Request) -> schemas.JobDetail:
    """Cancel an unfinished job and its unfinished tasks; 409 if it has already finished."""
    tenant = tenant_of(request)
    if tenant is not None:
        async with runtime.engine.connect() as conn:
            await queries.job_status(conn, job_id, tenant)  # another tenant's job: 404
    await runtime.orchestrator.cancel_job(job_id)
    async with runtime.engine.connect() as conn:
        return await queries.get_job(conn, job_id, runtime.settings.jaeger_url, tenant)


@router.post("/jobs/{job_id}/pin", response_model=schemas.JobDetail, responses=_ERRORS)
async def pin_job(job_id: UUID, runtime: RuntimeDep, request: Request) -> schemas.JobDetail:
    """Keep the job whatever its age: retention (RETENTION_DAYS, ``planwright prune``) skips it."""
    return await _pin(runtime, job_id, tenant_of(request), pinned=True)


@router.delete("/jobs/{job_id}/pin", response_model=schemas.JobDetail, responses=_ERRORS)
async def unpin_job(job_id: UUID, runtime: RuntimeDep, request: Request) -> schemas.JobDetail:
    """Undo a pin: the job is deleted with the others once it is older than the retention."""
    return await _pin(runtime, job_id, tenant_of(request), pinned=False)


async def _pin(runtime: Runtime, job_id: UUID, tenant: str | None, *, pinned: bool) -> schemas.JobDetail:
    async with runtime.engine.begin() as conn:
        if not await retention.set_pinned(conn, job_id, tenant, pinned):
            raise NotFound(f"job {job_id} not found")  # (or another tenant's)
    async with runtime.engine.connect() as conn:
        return await queries.get_job(conn, job_id, runtime.settings.jaeger_url, tenant)

"""A person's actions on one task: approve (perhaps with edited args) or reject it (the policy's
require_approval list), answer an ask_human question, retry it."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from planwright.core.errors import NotFound
from planwright.core.human_input import depth
from planwright.services.api import queries, schemas
from planwright.services.api.auth import principal_of, tenant_of
from planwright.services.api.deps import RuntimeDep

router = APIRouter(tags=["tasks"])
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": schemas.ErrorOut},
    409: {"model": schemas.ErrorOut},
    422: {"model": schemas.ErrorOut},
}


MAX_ARGS_BYTES = 64_000
MAX_ARGS_DEPTH = 16


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", max_length=2000, description="Why; recorded with the decision.")


class ApproveIn(AnswerIn):
    args: dict[str, Any] | None = Field(
        None,
        description="Edited args to run the task with: checked against the tool's schema (422) and the "
        "policy (422 naming the rule; the task still awaits approval); both versions are recorded.",
    )

    @field_validator("args")
    @classmethod
    def _bounded(cls, args: dict[str, Any] | None) -> dict[str, Any] | None:
        if args is not None:
            if depth(args) > MAX_ARGS_DEPTH:
                raise ValueError(f"args nest deeper than {MAX_ARGS_DEPTH} levels")
            if len(json.dumps(args).encode()) > MAX_ARGS_BYTES:
                raise ValueError(f"args are larger than {MAX_ARGS_BYTES} bytes")
        return args


class InputIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Any = Field(
        description="The answer: valid against the question's schema, one of its choices, or (with "
        "neither) text. Bounded: 32,000 bytes as JSON, 16 levels deep."
    )


async def _answer(
    runtime: RuntimeDep, request: Request, task_id: UUID, body: AnswerIn | None, approve: bool
) -> schemas.TaskOut:
    comment = body.comment.strip() if body else ""
    args = body.args if isinstance(body, ApproveIn) else None
    await _own(runtime, request, task_id)
    by = principal_of(request).key_name
    job_id = await runtime.orchestrator.answer_task(
        task_id,
        approve=approve,
        comment=comment,
        by=by,
        args=args,
        check_args=runtime.registry.validate_args,
    )
    return await _task_out(runtime, job_id, task_id)


async def _own(runtime: RuntimeDep, request: Request, task_id: UUID) -> None:
    """NotFound unless the task's job is the caller's tenant's (nothing to check on an open API)."""
    if (tenant := tenant_of(request)) is not None:
        async with runtime.engine.connect() as conn:
            await queries.task_job(conn, task_id, tenant)


async def _task_out(runtime: RuntimeDep, job_id: UUID, task_id: UUID) -> schemas.TaskOut:
    async with runtime.engine.connect() as conn:
        for task in await queries.list_tasks(conn, job_id):
            if task.id == task_id:
                return task
    raise NotFound(f"task {task_id} not found")


@router.post("/tasks/{task_id}/approve", response_model=schemas.TaskOut, responses=_ERRORS)
async def approve(
    task_id: UUID, runtime: RuntimeDep, request: Request, body: ApproveIn | None = None
) -> schemas.TaskOut:
    """Let a task awaiting approval run, with edited ``args`` if given; 409 if it is not awaiting
    approval. The decision records the name of the API key that made it, and both versions of
    edited args (``args_edit``)."""
    return await _answer(runtime, request, task_id, body, approve=True)


@router.post("/tasks/{task_id}/reject", response_model=schemas.TaskOut, responses=_ERRORS)
async def reject(
    task_id: UUID, runtime: RuntimeDep, request: Request, body: AnswerIn | None = None
) -> schemas.TaskOut:
    """Fail a task awaiting approval with the comment; its dependents are skipped and the job fails."""
    return await _answer(runtime, request, task_id, body, approve=False)


@router.post("/tasks/{task_id}/input", response_model=schemas.TaskOut, responses=_ERRORS)
async def give_input(task_id: UUID, body: InputIn, runtime: RuntimeDep, request: Request) -> schemas.TaskOut:
    """Answer an ask_human task awaiting input: it succeeds with ``{"answer", "text"}`` as its output
    and its dependents run. 422 saying what is wrong when the answer does not fit the question's
    schema or choices; 409 if the task is not awaiting input. Records the API key that answered."""
    await _own(runtime, request, task_id)
    by = principal_of(request).key_name
    job_id = await runtime.orchestrator.give_input(task_id, body.answer, by=by)
    return await _task_out(runtime, job_id, task_id)


@router.post("/tasks/{task_id}/retry", response_model=schemas.TaskOut, responses=_ERRORS)
async def retry(task_id: UUID, runtime: RuntimeDep, request: Request) -> schemas.TaskOut:
    """Run a failed or blocked task again with a fresh retry budget (blocked: the policy is asked again).

    The tasks its failure skipped go back to pending, and a failed job reopens (``job.running``);
    409 if the task is not failed or blocked, or its job was cancelled.
    """
    await _own(runtime, request, task_id)
    job_id = await runtime.orchestrator.retry_task(task_id)
    return await _task_out(runtime, job_id, task_id)

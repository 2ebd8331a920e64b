"""What each client method sends and how its answer is read (``_Base``), shared by ``Client`` and
``AsyncClient``, which only do the I/O."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote
from uuid import UUID

import httpx
from pydantic import TypeAdapter, ValidationError

from planwright.client.errors import JobFailed, PlanwrightError, _api_error
from planwright.core.states import JobStatus
from planwright.services.api.schemas import (
    ArtifactOut,
    JobDetail,
    JobPage,
    LLMCallOut,
    PlanVersionOut,
    TaskOut,
    UsageReport,
)

DEFAULT_URL = "http://localhost:8000"
SUBMIT_ATTEMPTS = 3  # POST /jobs is sent again (same Idempotency-Key) on a connection failure

T = TypeVar("T")
Id = UUID | str
ArtifactRef = ArtifactOut | UUID | str
Plan = Mapping[str, Any] | Sequence[Mapping[str, Any]]


def _reader(adapter: TypeAdapter[T]) -> Callable[[httpx.Response], T]:
    def read(resp: httpx.Response) -> T:
        if not resp.is_success:
            raise _api_error(resp)
        try:
            return adapter.validate_json(resp.content)
        except ValidationError as exc:
            request = resp.request
            raise PlanwrightError(f"unexpected answer to {request.method} {request.url}: {exc}") from exc

    return read


def _content(resp: httpx.Response) -> bytes:
    if not resp.is_success:
        raise _api_error(resp)
    return resp.content


def _health(resp: httpx.Response) -> dict[str, Any]:
    # 503 is an answer too: the body says which dependency is down.
    if resp.status_code not in (200, 503):
        raise _api_error(resp)
    body = resp.json()
    if not isinstance(body, dict):
        raise PlanwrightError(f"unexpected answer to GET /healthz: {body!r}")
    return body


_job = _reader(TypeAdapter(JobDetail))
_page = _reader(TypeAdapter(JobPage))
_task = _reader(TypeAdapter(TaskOut))
_tasks = _reader(TypeAdapter(list[TaskOut]))
_artifacts = _reader(TypeAdapter(list[ArtifactOut]))
_artifact = _reader(TypeAdapter(ArtifactOut))
_llm_calls = _reader(TypeAdapter(list[LLMCallOut]))
_plans = _reader(TypeAdapter(list[PlanVersionOut]))
_usage = _reader(TypeAdapter(UsageReport))


def _seg(value: object) -> str:
    """An id as one path segment."""
    return quote(str(value), safe="")


def _backoff(failures: int) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: 0.5, 1, 2, 4, then 5."""
    return float(min(0.5 * 2 ** (failures - 1), 5.0))


def _finished(job: JobDetail) -> JobDetail:
    if job.status != JobStatus.succeeded:
        raise JobFailed(job)
    return job


def _write(path: str | os.PathLike[str], content: bytes) -> Path:
    target = Path(path)
    target.write_bytes(content)
    return target


@dataclass(frozen=True)
class _Call(Generic[T]):
    """One request, and how its answer is read."""

    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] | None = None
    attempts: int = 1  # more only for requests that are safe to send again


class _Base:
    """Settings, and what each method sends and how its answer is read: shared by both clients."""

    def __init__(
        self, base_url: str | None, api_key: str | None, timeout: float | None, reconnects: int
    ) -> None:
        self.base_url = base_url or os.environ.get("PLANWRIGHT_API") or DEFAULT_URL
        key = os.environ.get("PLANWRIGHT_API_KEY", "") if api_key is None else api_key
        self._options: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": {"Authorization": f"Bearer {key}"} if key else {},
            "timeout": timeout,
        }
        self.reconnects = reconnects

    def _submit(
        self,
        goal: str | None,
        plan: Plan | None,
        context: Mapping[str, Any] | None,
        priority: int | None,
        idempotency_key: str | None,
        max_tasks: int | None,
    ) -> _Call[JobDetail]:
        body: dict[str, Any] = {}
        if goal is not None:
            body["goal"] = goal
        if plan is not None:
            body["plan"] = dict(plan) if isinstance(plan, Mapping) else {"tasks": list(plan)}
        if context is not None:
            body["context_json"] = dict(context)
        if priority is not None:
            body["priority"] = priority
        if max_tasks is not None:
            body["max_tasks"] = max_tasks
        key = idempotency_key or str(uuid.uuid4())
        headers = {"Idempotency-Key": key}
        return _Call("POST", "/jobs", _job, json=body, headers=headers, attempts=SUBMIT_ATTEMPTS)

    def _health(self) -> _Call[dict[str, Any]]:
        return _Call("GET", "/healthz", _health)

    def _get(self, job_id: Id) -> _Call[JobDetail]:
        return _Call("GET", f"/jobs/{_seg(job_id)}", _job)

    def _jobs(self, status: JobStatus | str | None, limit: int, offset: int) -> _Call[JobPage]:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = str(status)
        return _Call("GET", "/jobs", _page, params=params)

    def _tasks(self, job_id: Id) -> _Call[list[TaskOut]]:
        return _Call("GET", f"/jobs/{_seg(job_id)}/tasks", _tasks)

    def _artifacts(self, job_id: Id) -> _Call[list[ArtifactOut]]:
        return _Call("GET", f"/jobs/{_seg(job_id)}/artifacts", _artifacts)

    def _llm_calls(self, job_id: Id) -> _Call[list[LLMCallOut]]:
        return _Call("GET", f"/jobs/{_seg(job_id)}/llm-calls", _llm_calls)

    def _plans(self, job_id: Id) -> _Call[list[PlanVersionOut]]:
        return _Call("GET", f"/jobs/{_seg(job_id)}/plans", _plans)

    def _usage(
        self, start: date | str | None, end: date | str | None, tenant: str | None, jobs: int
    ) -> _Call[UsageReport]:
        params: dict[str, Any] = {"jobs": jobs}
        params |= {"from": str(start)} if start is not None else {}
        params |= {"to": str(end)} if end is not None else {}
        params |= {"tenant": tenant} if tenant is not None else {}
        return _Call("GET", "/usage", _usage, params=params)

    def _artifact(self, artifact_id: Id) -> _Call[ArtifactOut]:
        return _Call("GET", f"/artifacts/{_seg(artifact_id)}", _artifact)

    def _download(self, artifact: ArtifactRef) -> _Call[bytes]:
        artifact_id = artifact.id if isinstance(artifact, ArtifactOut) else artifact
        return _Call("GET", f"/artifacts/{_seg(artifact_id)}/content", _content)

    def _cancel(self, job_id: Id) -> _Call[JobDetail]:
        return _Call("POST", f"/jobs/{_seg(job_id)}/cancel", _job)

    def _task_action(
        self, task_id: Id, action: str, comment: str | None = None, args: dict[str, Any] | None = None
    ) -> _Call[TaskOut]:
        body: dict[str, Any] | None = None if comment is None else {"comment": comment}
        if args is not None:
            body = {**(body or {}), "args": args}
        return _Call("POST", f"/tasks/{_seg(task_id)}/{action}", _task, json=body)

    def _answer(self, task_id: Id, answer: Any) -> _Call[TaskOut]:
        return _Call("POST", f"/tasks/{_seg(task_id)}/input", _task, json={"answer": answer})

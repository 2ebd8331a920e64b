"""``AsyncClient``, the asyncio client: ``Client``'s requests, awaited."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Mapping
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, overload

import httpx

from planwright.client.errors import _api_error, _unreachable
from planwright.client.requests import (
    ArtifactRef,
    Id,
    Plan,
    T,
    _backoff,
    _Base,
    _Call,
    _finished,
    _write,
)
from planwright.client.sse import _Follow
from planwright.core.events import Event
from planwright.core.states import JOB_TERMINAL, JobStatus
from planwright.services.api.schemas import (
    ArtifactOut,
    JobDetail,
    JobPage,
    LLMCallOut,
    PlanVersionOut,
    TaskOut,
    UsageReport,
)


class AsyncClient(_Base):
    """The asyncio client: ``Client``'s constructor and methods, awaited; ``events`` is an async
    iterator, as is ``submit_and_follow`` (close it, e.g. with ``contextlib.aclosing``, if you stop
    before the job ends)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = 30.0,
        reconnects: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, reconnects)
        self._http = httpx.AsyncClient(transport=transport, **self._options)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        goal: str | None = None,
        *,
        plan: Plan | None = None,
        context: Mapping[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        max_tasks: int | None = None,
    ) -> JobDetail:
        return await self._send(self._submit(goal, plan, context, priority, idempotency_key, max_tasks))

    def submit_and_follow(
        self,
        goal: str | None = None,
        *,
        plan: Plan | None = None,
        context: Mapping[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        max_tasks: int | None = None,
    ) -> AsyncGenerator[Event, None]:
        """``Client.submit_and_follow``, an async iterator."""
        call = self._submit(goal, plan, context, priority, idempotency_key, max_tasks)
        return self._follow(_Follow(None, None, self.reconnects, None, submit=call))

    async def health(self) -> dict[str, Any]:
        return await self._send(self._health())

    async def get(self, job_id: Id) -> JobDetail:
        return await self._send(self._get(job_id))

    async def jobs(self, status: JobStatus | str | None = None, limit: int = 50, offset: int = 0) -> JobPage:
        return await self._send(self._jobs(status, limit, offset))

    async def tasks(self, job_id: Id) -> list[TaskOut]:
        return await self._send(self._tasks(job_id))

    async def artifacts(self, job_id: Id) -> list[ArtifactOut]:
        return await self._send(self._artifacts(job_id))

    async def llm_calls(self, job_id: Id) -> list[LLMCallOut]:
        return await self._send(self._llm_calls(job_id))

    async def usage(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        *,
        tenant: str | None = None,
        jobs: int = 10,
    ) -> UsageReport:
        return await self._send(self._usage(start, end, tenant, jobs))

    async def plans(self, job_id: Id) -> list[PlanVersionOut]:
        """The job's plan versions, oldest first, each with its diff against the one before."""
        return await self._send(self._plans(job_id))

    async def artifact(self, artifact_id: Id) -> ArtifactOut:
        return await self._send(self._artifact(artifact_id))

    @overload
    async def download(self, artifact: ArtifactRef) -> bytes: ...
    @overload
    async def download(self, artifact: ArtifactRef, path: str | os.PathLike[str]) -> Path: ...
    async def download(
        self, artifact: ArtifactRef, path: str | os.PathLike[str] | None = None
    ) -> bytes | Path:
        content = await self._send(self._download(artifact))
        return content if path is None else await asyncio.to_thread(_write, path, content)

    async def cancel(self, job_id: Id) -> JobDetail:
        return await self._send(self._cancel(job_id))

    async def retry(self, task_id: Id) -> TaskOut:
        return await self._send(self._task_action(task_id, "retry"))

    async def approve(self, task_id: Id, comment: str = "", args: dict[str, Any] | None = None) -> TaskOut:
        return await self._send(self._task_action(task_id, "approve", comment, args))

    async def answer(self, task_id: Id, answer: Any) -> TaskOut:
        return await self._send(self._answer(task_id, answer))

    async def reject(self, task_id: Id, comment: str = "") -> TaskOut:
        return await self._send(self._task_action(task_id, "reject", comment))

    def events(self, job_id: Id, last_event_id: int | None = None) -> AsyncGenerator[Event, None]:
        return self._follow(_Follow(job_id, last_event_id, self.reconnects, None))

    async def wait(self, job_id: Id) -> JobDetail:
        """``Client.wait``; bound it with ``asyncio.timeout``."""
        follow = _Follow(job_id, None, self.reconnects, None)
        while (job := await self.get(job_id)).status not in JOB_TERMINAL:
            follow.resume()
            async for _ in self._follow(follow):
                pass
        return _finished(job)

    async def _send(self, call: _Call[T]) -> T:
        attempt = 1
        while True:
            try:
                resp = await self._http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=call.headers
                )
            except httpx.TransportError as exc:
                if attempt >= call.attempts:
                    raise _unreachable(self.base_url, exc) from exc
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                continue
            return call.read(resp)

    async def _follow(self, follow: _Follow) -> AsyncGenerator[Event, None]:
        while not follow.done:
            request = follow.connect()
            try:
                async with self._http.stream(
                    request.method,
                    request.path,
                    json=request.json,
                    headers=request.headers,
                    timeout=request.timeout,
                ) as resp:
                    if not follow.opened(resp):
                        await resp.aread()
                        follow.failed(_api_error(resp))
                    else:
                        async for line in resp.aiter_lines():
                            if (event := follow.feed(line)) is not None:
                                yield event
                        if follow.closed():
                            follow.answered(await self._http.get(follow.job_path))
            except httpx.TransportError as exc:
                follow.failed(_unreachable(self.base_url, exc))
            if not follow.done:
                await asyncio.sleep(follow.delay())

"""``Client``, the blocking client: it sends what ``_Base`` describes and follows event streams."""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping
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


class Client(_Base):
    """A blocking client. ``base_url`` defaults to ``PLANWRIGHT_API``, then http://localhost:8000;
    ``api_key`` to ``PLANWRIGHT_API_KEY`` (``""``: send none). ``timeout`` bounds each request (event
    streams excepted); ``reconnects`` is how many times in a row ``events``, ``submit_and_follow`` and
    ``wait`` connect again after a failure before raising ``EventStreamLost``. ``transport`` is handed
    to httpx."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | None = 30.0,
        reconnects: int = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout, reconnects)
        self._http = httpx.Client(transport=transport, **self._options)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def submit(
        self,
        goal: str | None = None,
        *,
        plan: Plan | None = None,
        context: Mapping[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        max_tasks: int | None = None,
    ) -> JobDetail:
        """Submit a goal, an explicit plan (``{"tasks": [...]}`` or the list of tasks), or both. Sent
        with an Idempotency-Key (a new one unless given) and sent again with it when the connection
        fails, so the job is made once."""
        return self._send(self._submit(goal, plan, context, priority, idempotency_key, max_tasks))

    def submit_and_follow(
        self,
        goal: str | None = None,
        *,
        plan: Plan | None = None,
        context: Mapping[str, Any] | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        max_tasks: int | None = None,
    ) -> Generator[Event, None, None]:
        """``submit`` and ``events`` in one request: the new job's events, from its first
        (``job.created``, whose ``job_id`` is the job's id) until it ends. The request is sent when
        iteration starts. Until the answer's head arrives, a failed connection sends the submit again
        with the same Idempotency-Key, so the job is made once; after it, a dropped stream is resumed
        as ``events`` resumes it."""
        call = self._submit(goal, plan, context, priority, idempotency_key, max_tasks)
        return self._follow(_Follow(None, None, self.reconnects, None, submit=call))

    def health(self) -> dict[str, Any]:
        """``GET /healthz``'s answer, healthy or not: ``status``, ``mode``, each dependency, and the
        model that writes the text (``llm_provider``, with ``llm_notice`` for the built-in mock)."""
        return self._send(self._health())

    def get(self, job_id: Id) -> JobDetail:
        """The job, with its task counts, usage and plan."""
        return self._send(self._get(job_id))

    def jobs(self, status: JobStatus | str | None = None, limit: int = 50, offset: int = 0) -> JobPage:
        """A page of jobs, newest first; ``next_offset`` is the next page's offset (None: the last)."""
        return self._send(self._jobs(status, limit, offset))

    def tasks(self, job_id: Id) -> list[TaskOut]:
        """The job's tasks in plan order."""
        return self._send(self._tasks(job_id))

    def artifacts(self, job_id: Id) -> list[ArtifactOut]:
        """The artifacts the job's tools wrote."""
        return self._send(self._artifacts(job_id))

    def llm_calls(self, job_id: Id) -> list[LLMCallOut]:
        """The job's model calls, oldest first."""
        return self._send(self._llm_calls(job_id))

    def usage(
        self,
        start: date | str | None = None,
        end: date | str | None = None,
        *,
        tenant: str | None = None,
        jobs: int = 10,
    ) -> UsageReport:
        """Model spend and tokens per UTC day, model, tenant and job from ``start`` to ``end`` (inclusive;
        default the last 30 days); another tenant's needs an admin key."""
        return self._send(self._usage(start, end, tenant, jobs))

    def plans(self, job_id: Id) -> list[PlanVersionOut]:
        """The job's plan versions, oldest first, each with its diff against the one before."""
        return self._send(self._plans(job_id))

    def artifact(self, artifact_id: Id) -> ArtifactOut:
        """One artifact's metadata: name, media type, size, job and task."""
        return self._send(self._artifact(artifact_id))

    @overload
    def download(self, artifact: ArtifactRef) -> bytes: ...
    @overload
    def download(self, artifact: ArtifactRef, path: str | os.PathLike[str]) -> Path: ...
    def download(self, artifact: ArtifactRef, path: str | os.PathLike[str] | None = None) -> bytes | Path:
        """An artifact's bytes; with ``path``, written there instead, and the path returned."""
        content = self._send(self._download(artifact))
        return content if path is None else _write(path, content)

    def cancel(self, job_id: Id) -> JobDetail:
        """Cancel an unfinished job (``Conflict`` if it has finished)."""
        return self._send(self._cancel(job_id))

    def retry(self, task_id: Id) -> TaskOut:
        """Run a failed or blocked task again; its failed job reopens."""
        return self._send(self._task_action(task_id, "retry"))

    def approve(self, task_id: Id, comment: str = "", args: dict[str, Any] | None = None) -> TaskOut:
        """Let a task awaiting approval run, with edited ``args`` if given (checked against the tool's
        schema and the policy: ``ApiError`` 422 if they do not pass; both versions are recorded)."""
        return self._send(self._task_action(task_id, "approve", comment, args))

    def answer(self, task_id: Id, answer: Any) -> TaskOut:
        """Answer an ask_human task awaiting input: text, one of its choices, or a JSON value valid
        against its schema (``ApiError`` 422 saying what is wrong otherwise)."""
        return self._send(self._answer(task_id, answer))

    def reject(self, task_id: Id, comment: str = "") -> TaskOut:
        """Fail a task awaiting approval; its job fails."""
        return self._send(self._task_action(task_id, "reject", comment))

    def events(self, job_id: Id, last_event_id: int | None = None) -> Generator[Event, None, None]:
        """The job's events after ``last_event_id`` (all, by default), then live ones, until the job
        ends. A dropped connection is resumed from the last event received."""
        return self._follow(_Follow(job_id, last_event_id, self.reconnects, None))

    def wait(self, job_id: Id, timeout: float | None = None) -> JobDetail:
        """Wait for the job to end and return it; ``JobFailed`` if it failed or was cancelled,
        ``WaitTimeout`` after ``timeout`` seconds."""
        follow = _Follow(job_id, None, self.reconnects, timeout)
        while (job := self.get(job_id)).status not in JOB_TERMINAL:
            follow.resume()
            for _ in self._follow(follow):
                pass
        return _finished(job)

    def _send(self, call: _Call[T]) -> T:
        attempt = 1
        while True:
            try:
                resp = self._http.request(
                    call.method, call.path, params=call.params, json=call.json, headers=call.headers
                )
            except httpx.TransportError as exc:
                if attempt >= call.attempts:
                    raise _unreachable(self.base_url, exc) from exc
                time.sleep(_backoff(attempt))
                attempt += 1
                continue
            return call.read(resp)

    def _follow(self, follow: _Follow) -> Generator[Event, None, None]:
        while not follow.done:
            request = follow.connect()
            try:
                with self._http.stream(
                    request.method,
                    request.path,
                    json=request.json,
                    headers=request.headers,
                    timeout=request.timeout,
                ) as resp:
                    if not follow.opened(resp):
                        resp.read()
                        follow.failed(_api_error(resp))
                    else:
                        for line in resp.iter_lines():
                            if (event := follow.feed(line)) is not None:
                                yield event
                        if follow.closed():
                            follow.answered(self._http.get(follow.job_path))
            except httpx.TransportError as exc:
                follow.failed(_unreachable(self.base_url, exc))
            if not follow.done:
                time.sleep(follow.delay())

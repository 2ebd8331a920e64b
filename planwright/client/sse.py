"""Server-Sent Events: the line parser (``sse_events``), and ``_Follow``, which keeps one job's event
stream's place across reconnects (its first connection may be the submit itself)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import httpx
from pydantic import ValidationError

from planwright.client.errors import (
    ApiError,
    ConnectionFailed,
    EventStreamLost,
    PlanwrightError,
    RateLimited,
    ServerError,
    WaitTimeout,
    _api_error,
)
from planwright.client.requests import Id, _backoff, _Call, _job, _seg
from planwright.core.events import JOB_TERMINAL_EVENTS, Event
from planwright.core.states import JOB_TERMINAL

STREAM_CONNECT_S = 30.0
STREAM_READ_S = 60.0  # the API sends a keep-alive every 15 s: silence this long means a dead connection


class _Request(NamedTuple):
    """What one connection sends."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    timeout: httpx.Timeout


class _Message(NamedTuple):
    id: int | None
    event: str
    data: str


class _Decoder:
    """Server-Sent Events, fed one line at a time (comments and keep-alives are skipped)."""

    def __init__(self) -> None:
        self._id: int | None = None
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> _Message | None:
        """The message this line completes, if it does."""
        if not line:
            message = _Message(self._id, self._event, "\n".join(self._data)) if self._data else None
            self._event, self._data = "message", []
            return message
        if not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                self._id = int(value)
            elif name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
        return None


def sse_events(lines: Iterable[str]) -> Iterator[tuple[int | None, str, Any]]:
    """``(id, event, data)`` of each message of any Planwright SSE stream (data decoded from JSON),
    e.g. of ``/jobs/changes``, which the client does not wrap."""
    decoder = _Decoder()
    for line in lines:
        if (message := decoder.feed(line)) is not None:
            yield message.id, message.event, json.loads(message.data)


class _Follow:
    """Following one job's event stream across reconnects: where to resume from, when it is over, how
    long to wait before the next try, and when to give up.

    With ``submit`` (a ``POST /jobs``) and no ``job_id``, each connection sends the submit, asking for
    the job's events, until the job's id is known: from the answer's ``Location``, or else from the
    first event.
    The Idempotency-Key makes the job once however often it is sent. From then on each connection is
    ``GET /jobs/{id}/events``."""

    def __init__(
        self,
        job_id: Id | None,
        last_event_id: int | None,
        reconnects: int,
        timeout: float | None,
        submit: _Call[Any] | None = None,
    ) -> None:
        self.job_id = job_id
        self.last = last_event_id
        self.done = False
        self._submit = submit
        self._reconnects = reconnects
        self._timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._failures = 0
        self._wait_s = 0.0
        self._ended = False  # the last event was a terminal one
        self._over = False  # the job had ended when last read
        self._decoder = _Decoder()

    @property
    def job_path(self) -> str:
        return f"/jobs/{_seg(self.job_id)}"

    def connect(self) -> _Request:
        """The next connection's request."""
        self._check_deadline()
        self._decoder = _Decoder()  # a message cut off with the last connection is dropped
        headers = {"Last-Event-ID": str(self.last)} if self.last is not None else {}
        timeout = httpx.Timeout(self._cap(STREAM_CONNECT_S), read=self._cap(STREAM_READ_S))
        if self.job_id is None and self._submit is not None:
            headers |= {**(self._submit.headers or {}), "Accept": "text/event-stream"}
            return _Request("POST", self._submit.path, self._submit.json, headers, timeout)
        return _Request("GET", f"{self.job_path}/events", None, headers, timeout)

    def opened(self, resp: httpx.Response) -> bool:
        """Whether the answer (its head read) is the stream. If not, read its body and pass
        ``_api_error`` of it to ``failed``."""
        if resp.status_code not in (200, 201):  # 201: the submit made the job
            return False
        if self.job_id is None:
            kind = resp.headers.get("content-type", "")
            if not kind.startswith("text/event-stream"):  # an API from before submit-and-follow
                raise PlanwrightError(f"POST /jobs was answered with {kind!r}, not the job's events")
            if location := resp.headers.get("location"):  # {root_path}/jobs/{id}
                self.job_id = location.rsplit("/", 1)[-1]
        return True

    def feed(self, line: str) -> Event | None:
        """The event this line completes, if it does."""
        self._failures = 0  # the connection works
        self._check_deadline()
        message = self._decoder.feed(line)
        if message is None:
            return None
        try:
            event = Event.model_validate_json(message.data)
        except ValidationError as exc:
            raise PlanwrightError(f"unexpected event in the stream of {self._job()}: {exc}") from exc
        if self.job_id is None:
            self.job_id = event.job_id  # the first job of a repeated Idempotency-Key
        self.last = event.id
        self._ended = event.type in JOB_TERMINAL_EVENTS  # an event after one: a retry reopened the job
        self._over = False  # what the job's status said is out of date
        return event

    def closed(self) -> bool:
        """The API ended the stream: after a terminal event, or on a job known to be over, that is the
        end. Otherwise (the job was over before ``last``, or the API is going away) returns True: read
        the job (``job_path``) and pass the answer to ``answered``; but if the job's id is not known
        yet, returns False, and the submit is sent again after ``delay``."""
        self.done = self._ended or self._over
        if not self.done and self.job_id is None:
            self.failed(ConnectionFailed("the answer to POST /jobs ended before the job's first event"))
            return False
        return not self.done

    def answered(self, resp: httpx.Response) -> None:
        """The job, read after its stream ended early. If it is over, one more connection replays
        whatever came after ``last`` and ends; otherwise resume after a pause."""
        if not resp.is_success:
            self.failed(_api_error(resp))
        elif _job(resp).status in JOB_TERMINAL:
            self._over, self._wait_s = True, 0.0
        else:
            self.failed(ConnectionFailed(f"the event stream of {self._job()} ended early"))

    def failed(self, error: PlanwrightError) -> None:
        """A connection failed: raises ``error`` unless another try may help (a dropped connection, a
        busy or failing API), ``EventStreamLost`` after too many in a row (before a submit's answer,
        ``error`` itself after as many tries as ``submit`` makes)."""
        if isinstance(error, ApiError) and not isinstance(error, ServerError | RateLimited):
            raise error
        self._check_deadline(error)
        self._failures += 1
        if self.job_id is None and self._submit is not None and self._failures >= self._submit.attempts:
            raise error  # tried as often as ``submit`` tries: the API is not there
        if self._failures > self._reconnects:
            raise EventStreamLost(
                f"lost the event stream of {self._job()}: {self._failures} attempts in a row "
                f"failed, the last with: {error}"
            ) from error
        retry_after = error.retry_after if isinstance(error, ApiError) else None  # (429, 503)
        self._wait_s = max(_backoff(self._failures), retry_after or 0.0)

    def delay(self) -> float:
        """Seconds to wait before connecting again."""
        return self._cap(self._wait_s)

    def resume(self) -> None:
        """Follow on after the end (the job was reopened since)."""
        self.done = self._ended = self._over = False

    def _cap(self, seconds: float) -> float:
        if self._deadline is None:
            return seconds
        return max(0.0, min(seconds, self._deadline - time.monotonic()))

    def _check_deadline(self, cause: Exception | None = None) -> None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise WaitTimeout(f"{self._job()} did not end within {self._timeout} s") from cause

    def _job(self) -> str:
        return "the job being submitted" if self.job_id is None else f"job {self.job_id}"

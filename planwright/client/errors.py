"""The client's exceptions, and which one an error answer or a failed connection stands for."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx
from pydantic import ValidationError

from planwright.services.api.schemas import ErrorOut, JobDetail


class PlanwrightError(Exception):
    """Base of every error the client raises."""


class ConnectionFailed(PlanwrightError):
    """The API could not be reached, or the connection broke before it answered."""


class EventStreamLost(ConnectionFailed):
    """Following a job's events failed more than ``reconnects`` times in a row."""


class WaitTimeout(PlanwrightError, TimeoutError):
    """``wait`` ran out of time before the job ended."""


class JobFailed(PlanwrightError):
    """``wait``: the job ended ``failed`` or ``cancelled``. ``job`` is the finished job, ``error`` why."""

    def __init__(self, job: JobDetail) -> None:
        super().__init__(f"job {job.id} {job.status}: {job.error}")
        self.job = job
        self.error = job.error


class ApiError(PlanwrightError):
    """The API answered with an error: its HTTP ``status``, and the ``code``, ``message`` and
    ``details`` of its error body (docs/api.md#errors). ``str(error)`` is the message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        # Seconds the API asked to wait before trying again (its Retry-After: 429 and 503), else None.
        self.retry_after: float | None = None


class Unauthorized(ApiError):
    """401: no API key, or one that is unknown or revoked."""


class Forbidden(ApiError):
    """403: the key lacks the route's scope, or a cross-site request."""


class NotFound(ApiError):
    """404: no such job, task or artifact (or another tenant's)."""


class Conflict(ApiError):
    """409: not allowed in the current state, e.g. cancelling a finished job."""


class ValidationFailed(ApiError):
    """422: the request is invalid; ``details`` says what, field by field for a ``validation_error``."""


class RateLimited(ApiError):
    """429: too many requests; ``retry_after`` is the seconds the API asked to wait (None if it did not)."""


class ServerError(ApiError):
    """5xx: the API failed."""


class Unavailable(ServerError):
    """503: the API cannot serve this now (its database or Redis is down, or it holds as many event
    streams as it may); ``retry_after`` is the seconds it asked to wait."""


_ERRORS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
    503: Unavailable,
}


def _api_error(resp: httpx.Response) -> ApiError:
    """The error an error answer stands for (its body may be anything: a proxy's page, say)."""
    try:
        body = ErrorOut.model_validate_json(resp.content).error
        code, message, details = body.code, body.message, body.details
    except ValidationError:
        code, message, details = "http_error", f"HTTP {resp.status_code}: {resp.text[:200]}", None
    kind = _ERRORS.get(resp.status_code, ServerError if resp.status_code >= 500 else ApiError)
    error = kind(resp.status_code, code, message, details)
    if isinstance(error, RateLimited | Unavailable):
        with contextlib.suppress(KeyError, ValueError):
            error.retry_after = float(resp.headers["retry-after"])
    return error


def _unreachable(base_url: str, exc: httpx.TransportError) -> ConnectionFailed:
    return ConnectionFailed(f"cannot reach the API at {base_url}: {exc or type(exc).__name__}")

"""A Python client for the Planwright HTTP API (docs/client.md): ``Client`` blocks, ``AsyncClient`` awaits.

Both send the same requests and read the same answers: ``_Base`` (``requests``) says what each method
sends and how its answer is read, ``_Follow`` (``sse``) keeps an event stream's place across reconnects.
The two clients (``sync``, ``aio``) only do the I/O. Answers are the API's own models
(``planwright.services.api.schemas``, and ``Event`` for the event stream); the exceptions are in
``errors``.
"""

from planwright.client.aio import AsyncClient
from planwright.client.errors import (
    ApiError,
    Conflict,
    ConnectionFailed,
    EventStreamLost,
    Forbidden,
    JobFailed,
    NotFound,
    PlanwrightError,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WaitTimeout,
)
from planwright.client.requests import Id as Id  # not in __all__: planwright.follow types ids with it
from planwright.client.sse import sse_events
from planwright.client.sync import Client
from planwright.core.events import Event

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Event",
    "EventStreamLost",
    "Forbidden",
    "JobFailed",
    "NotFound",
    "PlanwrightError",
    "RateLimited",
    "ServerError",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "WaitTimeout",
    "sse_events",
]

"""uvicorn's HTTP/1.1 (httptools) request cycle, for the places that write to a connection themselves
(an event stream's chunks, routes/events.py; a response's head with its body, app.py). Both rely on
attributes of that cycle that are not part of ASGI; under any other server they stand aside."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.types import Send

HTTPTOOLS_CYCLE_MODULE = "uvicorn.protocols.http.httptools_impl"


def httptools_cycle(send: Send | None, needed: Iterable[str]) -> Any | None:
    """The uvicorn httptools request cycle whose ``send`` this is, if it has every attribute in
    ``needed``; None under another server (or a uvicorn whose cycle no longer has them)."""
    cycle = getattr(send, "__self__", None)
    if type(cycle).__module__ != HTTPTOOLS_CYCLE_MODULE:
        return None
    if not all(hasattr(cycle, name) for name in needed):
        return None
    return cycle

"""FastAPI dependencies: the runtime and a read connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from planwright.services.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    """The app's runtime; the hottest routes take ``request`` and call this rather than depend on
    ``RuntimeDep``, which costs FastAPI a dependency to solve on every request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:  # async: a plain def would run in a thread
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_conn(runtime: RuntimeDep) -> AsyncIterator[AsyncConnection]:
    async with runtime.engine.connect() as conn:
        yield conn


ConnDep = Annotated[AsyncConnection, Depends(get_conn)]

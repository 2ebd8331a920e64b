"""The hottest routes straight to their handlers, past FastAPI's router (docs/adr/0033).

The event streams (``routes/events.py``) and ``GET /jobs/{id}`` (``routes/jobs.py``), the read a
polling client repeats: each route module lists its handlers in ``DIRECT``, called with the request
alone, reading their parameters as the route would (``parameter``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[Response]]


def parameter(adapter: TypeAdapter[T], value: object, where: str, name: str) -> T:
    """A parameter read by hand, validated as FastAPI validates it, or the 422 FastAPI would answer
    (naming ``where``, "query" or "path", and ``name``)."""
    try:
        return adapter.validate_python(value, strict=False)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": (where, name)} for e in exc.errors(include_url=False)]
        ) from None


_UUID = TypeAdapter(UUID)


def uuid_in_path(request: Request, name: str) -> UUID:
    """The path parameter ``name`` as a UUID, or the 422 FastAPI would answer for it."""
    return parameter(_UUID, request.path_params[name], "path", name)


class DirectRoutes:
    """An ASGI middleware, the innermost, so that every other one still sees each request (hosts,
    keys, scopes, rate limits, telemetry, body limits): a ``GET`` for one of the direct routes is
    matched as the router matches it (so ``scope["route"]`` and the path parameters are the same),
    its handler is called with the request, and an error it raises is answered by the app's own
    exception handlers, as FastAPI's exception layer would; an error none of them takes goes on out
    to the server-error layer, as it would. Anything else goes to the app.

    Through the router, a request costs FastAPI's exception and exit-stack layers, its route
    dispatch and its parameter and dependency solving: about a fifth of a ``GET /jobs/{id}``'s CPU,
    which a client polling a job pays a dozen times a job. An event stream's request stays suspended
    for as long as its job runs, and through the router holds 13 more coroutines, with three
    AsyncExitStacks and a dozen closures, that every full garbage collection walks.

    ``routes``: (router, its direct handlers by route path), in the order the app includes the
    routers, which is the order they are matched in (the first full match wins, as in the router)."""

    def __init__(self, app: ASGIApp, routes: Iterable[tuple[APIRouter, Mapping[str, Handler]]]) -> None:
        self.app = app
        self.routes = [
            (route, handlers[route.path])
            for router, handlers in routes
            for route in router.routes
            if isinstance(route, APIRoute) and route.path in handlers and "GET" in (route.methods or ())
        ]
        # A request whose path holds none of the routes' fixed beginnings needs no matching (held, not
        # begun with: the path may begin with the app's root path).
        self.prefixes = tuple({route.path.split("{", 1)[0] for route, _ in self.routes})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = self._direct(scope)
        if direct is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            response = await direct(request)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _direct(self, scope: Scope) -> Handler | None:
        """The handler of the direct route the request is for (its match put in the scope), or None."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path = scope["path"]
        if not any(prefix in path for prefix in self.prefixes):
            return None
        for route, direct in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return direct
        return None


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    """The app's handler for ``exc``, looked up as Starlette's exception layer does (by status code for
    an HTTPException, then by class along the MRO); None for what only the server-error layer takes."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None

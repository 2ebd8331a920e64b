"""The hottest routes straight to their handlers, past FastAPI's router (docs/adr/0033, 0038, 0040).

The event streams (``routes/events.py``), ``GET /jobs/{id}``, the read a polling client repeats, and
``POST /jobs``, every job's first request (``routes/jobs.py``): each route module lists its handlers
in ``DIRECT`` by method and path, called with the request alone, reading their parameters and body as
the route would (``parameter``, ``json_body``)."""

from __future__ import annotations

import email.message
import json
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


async def json_body(request: Request, adapter: TypeAdapter[T]) -> T:
    """The request's body as a route's one body parameter of ``adapter``'s type reads it, with the
    answers FastAPI gives: decoded as JSON only when its ``Content-Type`` says JSON
    (``application/json`` or ``application/*+json``; any other body is validated as its bytes, and
    fails); an empty body is the 422 of a missing field; JSON that does not decode is the 422
    ``json_invalid`` at its position; a body the limits refused (``limits.BodyRejected``, an
    HTTPException) is that answer; any other failure to read it is a 400."""
    try:
        raw = await request.body()
        body: Any = raw
        if raw and _is_json(request.headers.get("content-type")):
            body = json.loads(raw)
    except json.JSONDecodeError as exc:
        error = {
            "type": "json_invalid",
            "loc": ("body", exc.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }
        raise RequestValidationError([error], body=exc.doc) from exc
    except HTTPException:
        raise
    except Exception as exc:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        return adapter.validate_python(body, from_attributes=True)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=body) from None


def _is_json(content_type: str | None) -> bool:
    """Whether a body of ``content_type`` is decoded as JSON (FastAPI's test, a missing type: no)."""
    if content_type is None:
        return False
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    is_json = subtype == "json" or subtype.endswith("+json")
    return message.get_content_maintype() == "application" and is_json


class DirectRoutes:
    """An ASGI middleware, the innermost, so that every other one still sees each request (hosts,
    keys, scopes, rate limits, telemetry, body limits): a request for one of the direct routes (its
    method and path) is matched as the router matches it (so ``scope["route"]`` and the path
    parameters are the same), its handler is called with the request, and an error it raises is
    answered by the app's own exception handlers, as FastAPI's exception layer would; an error none
    of them takes goes on out to the server-error layer, as it would. Anything else goes to the app.

    Through the router, a request costs FastAPI's exception and exit-stack layers, its route
    dispatch and its parameter and dependency solving: about a fifth of a ``GET /jobs/{id}``'s CPU,
    which a client polling a job pays a dozen times a job, and about a seventh of a ``POST /jobs``'s
    in a process that also runs the jobs (docs/adr/0040). An event stream's request stays suspended
    for as long as its job runs, and through the router holds 13 more coroutines, with three
    AsyncExitStacks and a dozen closures, that every full garbage collection walks.

    ``routes``: (router, its direct handlers by ``"METHOD path"`` of the route), in the order the
    app includes the routers, which is the order they are matched in (the first full match wins, as
    in the router). Only the named method is taken past the router (a ``GET`` route's ``HEAD`` is
    not)."""

    def __init__(self, app: ASGIApp, routes: Iterable[tuple[APIRouter, Mapping[str, Handler]]]) -> None:
        self.app = app
        # Each method's direct routes, in matching order, and their paths' fixed beginnings: a request
        # whose path holds none of them needs no matching (held, not begun with: the path may begin
        # with the app's root path).
        named = (
            (method, route, handlers.get(f"{method} {route.path}"))
            for router, handlers in routes
            for route in router.routes
            if isinstance(route, APIRoute)
            for method in sorted(route.methods or ())
        )
        self.routes: dict[str, list[tuple[APIRoute, Handler]]] = {}
        for method, route, handler in named:
            if handler is not None:
                self.routes.setdefault(method, []).append((route, handler))
        self.prefixes = {
            method: tuple(dict.fromkeys(route.path.split("{", 1)[0] for route, _ in found))
            for method, found in self.routes.items()
        }

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
        if scope["type"] != "http" or (prefixes := self.prefixes.get(scope["method"])) is None:
            return None
        path = scope["path"]
        if not any(prefix in path for prefix in prefixes):
            return None
        for route, direct in self.routes[scope["method"]]:
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

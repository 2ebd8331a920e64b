"""``OPTIONS`` on any route: 204 with an ``Allow`` header naming the methods its path answers.

Starlette answers OPTIONS with 405 and, at best, the methods of the first route of the path (``/jobs``
is two routes, GET and POST). A CORS preflight never gets here when CORS is configured: the CORS
middleware, outside this one, answers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send


class AllowOptions:
    """ASGI middleware: answers OPTIONS for the app's routes (one string compare for anything else)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        methods = allowed_methods(scope)
        if not methods:  # no route of that path: the app answers (404, or the UI's files)
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"})).encode()
        await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow)]})
        await send({"type": "http.response.body", "body": b""})


def allowed_methods(scope: Scope) -> set[str]:
    """Every method some route of the app answers on ``scope``'s path."""
    found: set[str] = set()
    for route in _routes(scope["app"].router.routes):
        methods = getattr(route, "methods", None)
        if methods and route.matches(scope)[0] is not Match.NONE:
            found.update(methods)
    return found


def _routes(routes: Sequence[BaseRoute]) -> Iterable[Any]:
    """The app's routes, those of included routers too (FastAPI keeps an included router as one
    entry of ``routes`` since 0.160; ``iter_route_contexts`` lists what it holds)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI copies included routes into the app's list
        return routes
    return iter_route_contexts(routes)

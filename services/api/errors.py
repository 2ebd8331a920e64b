"""One handler per error family, all answering ``{"error": {"code", "message", "details"}}``.

A failure because the database or Redis cannot be reached (``outage.unavailable``) is a 503
``unavailable`` with ``Retry-After``, logged once per outage rather than once per request; any other
unexpected error is a 500 ``internal_error`` in the same shape, with its traceback in the log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Send

from planwright.core import outage
from planwright.core.errors import PlanwrightError

RETRY_AFTER_S = 5  # what a 503 unavailable asks the client to wait: the health check runs every second
_NAMES = {"database": "the database", "redis": "Redis"}


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Answer with the error shape straight from an ASGI middleware, without running the app."""
    body = json.dumps(_body(code, message, details)).encode()
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlanwrightError)
    async def _planwright(_: Request, exc: PlanwrightError) -> JSONResponse:
        body = _body(exc.code, exc.message, exc.details or None)
        # An error that is an HTTPException too may say how its answer is framed (limits.BodyRejected).
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        problems = []
        for e in errors:
            msg = str(e["msg"]).removeprefix("Value error, ")
            problems.append({"field": _where(e["loc"]), "message": msg})
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return JSONResponse(_body("validation_error", message, problems), status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not outage.unavailable(exc):
            raise exc  # a bug or a bad statement: the server's 500, with its traceback in the log
        health = getattr(request.app.state, "health", None)
        name = health.met(exc) if health is not None else outage.dependency(exc)
        return unavailable(name)

    for family in outage.families():  # the classes an outage arrives as; the rest is not looked at
        app.add_exception_handler(family, _unavailable)

    # Anything else is a bug of ours: the same JSON shape (not Starlette's plain text), and the
    # traceback in the log (Starlette's outermost layer logs it after this answer).
    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            _body("internal_error", "the server failed to handle this request"), status_code=500
        )


def unavailable(dependency: str) -> JSONResponse:
    """The 503 for a request that could not be served because ``dependency`` is unavailable."""
    what = _NAMES.get(dependency, dependency)
    body = _body("unavailable", f"{what} is unavailable; try again shortly", {"dependency": dependency})
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})

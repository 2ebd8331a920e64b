"""The FastAPI application. It also hosts the Orchestrator (and, in embedded mode, every service)."""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import planwright
from planwright.core import metrics, tracing
from planwright.services.api.auth import Guard, KeyRing
from planwright.services.api.direct_routes import DirectRoutes
from planwright.services.api.errors import install_error_handlers
from planwright.services.api.health import Health
from planwright.services.api.limits import BodyLimits
from planwright.services.api.options import AllowOptions
from planwright.services.api.ratelimit import Limiter, MemoryLimiter, RedisLimiter
from planwright.services.api.routes import artifacts, docs, events, jobs, meta, policy, task_actions, usage
from planwright.services.api.routes import auth as auth_routes
from planwright.services.api.server_cycle import httptools_cycle
from planwright.services.api.streams import StreamGate
from planwright.services.runtime import Runtime

# Requests worth no span: scrapes, probes and the UI's static files.
UNTRACED = ("/metrics", "/healthz", "/_next/", "/favicon.ico")
# FastAPI's own OpenTelemetry instrumentation (FastAPI 0.16x): RequestTelemetry below makes the spans
# and metrics here, so FastAPI's is turned off. Left on, it would make a second set as soon as any
# library set a global tracer, meter or logger provider, and it asked OpenTelemetry for each of the
# three on every request (environment look-ups included: ~10 % of a GET /jobs/{id}'s CPU).
_NO_FASTAPI_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


class PlanwrightApp(FastAPI):
    """The app, keeping the server's own ``send`` in the scope (``events.SERVER_SEND``) for event streams:
    their head goes through every middleware, their chunks straight to the server (routes/events.py)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[events.SERVER_SEND] = send
        held = HeadWithBody.install(scope, send)
        try:
            await super().__call__(scope, receive, send)
        finally:
            if held is not None:
                held.flush()

    def openapi(self) -> dict[str, Any]:
        """The schema, saying how to send an API key (the Guard checks it, not a route dependency)."""
        if self.openapi_schema is None:
            schema = super().openapi()
            schema.setdefault("components", {})["securitySchemes"] = {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key (`planwright keys create`); none while the API runs open.",
                }
            }
            schema["security"] = [{"apiKey": []}, {}]
        return super().openapi()


class HeadWithBody:
    """A response's head and the first bytes of its body in one write to the connection, where uvicorn
    (HTTP/1.1, httptools) writes them in two: one send and one wake-up of the client less per response.

    Installed as the request cycle's transport for one request (the connection's own stays with the
    protocol): the first write once the response has started (its head) is held, and goes out with
    the next write (the body's first bytes, or the empty write uvicorn makes for an empty body), after
    which the cycle gets its own transport back. Anything written before the response starts (a
    ``100 Continue``) goes out at once. A HEAD response has no body write, so it is not held. A close
    sends what is held first, and so does ``flush`` when the app returns (the head of a response
    whose app failed after starting it: uvicorn closes the connection then)."""

    __slots__ = ("_cycle", "_head", "_transport")

    def __init__(self, cycle: Any) -> None:
        self._cycle = cycle
        self._transport = cycle.transport
        self._head: bytes | None = None

    @classmethod
    def install(cls, scope: Scope, send: Send) -> HeadWithBody | None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            return None
        cycle = httptools_cycle(send, ("transport", "response_started"))
        if cycle is None:
            return None
        held = cls(cycle)
        cycle.transport = held
        return held

    def write(self, data: bytes) -> None:
        if self._head is None:
            if self._cycle.response_started:
                self._head = data  # the head: it waits for the body's first bytes
            else:
                self._transport.write(data)  # before the response (a 100 Continue)
            return
        data, self._head = self._head + data, None
        self._cycle.transport = self._transport
        self._transport.write(data)

    def flush(self) -> None:
        """Send what is held (nothing, once the body has begun), and give the cycle its transport back."""
        if self._cycle.transport is self:
            self._cycle.transport = self._transport
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RequestTelemetry:
    """Counts and times each request by its route template (``/jobs/{job_id}``, never the id), and
    runs it in a server span (``POST /jobs`` is the root of the job's trace; a caller's
    ``traceparent`` header makes it a child of the caller's span instead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path"]
        # No span when nothing would record it: tracing is off and the caller sent no trace context
        # to continue (with one, the job keeps the caller's trace id even while tracing is off).
        if path.startswith(UNTRACED) or not (
            tracing.enabled() or any(k == b"traceparent" for k, _ in scope["headers"])
        ):
            await self.app(scope, receive, self._observer(scope, send, started, None))
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        attrs = {"http.request.method": method, "url.path": path}
        with tracing.span(method, headers, attrs, kind=tracing.SpanKind.SERVER) as span:
            await self.app(scope, receive, self._observer(scope, send, started, span))

    @staticmethod
    def _observer(scope: Scope, send: Send, started: float, span: tracing.Span | None) -> Send:
        return _Observed(scope, send, started, span)


class _Observed:
    """A request's ``send``, counting and timing the response as its head goes out. An object rather
    than a closure: one object per request, not a function and its cells (an event stream keeps it
    for as long as it lasts, docs/adr/0033)."""

    __slots__ = ("_scope", "_send", "_span", "_started")

    def __init__(self, scope: Scope, send: Send, started: float, span: tracing.Span | None) -> None:
        self._scope, self._send, self._started, self._span = scope, send, started, span

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status, method = message["status"], self._scope["method"]
            route = self._scope.get("route")
            template = getattr(route, "path", None) or ("static" if status < 400 else "unmatched")
            metrics.labelled(metrics.HTTP_REQUESTS, template, method, str(status)).inc()
            took = time.perf_counter() - self._started
            metrics.labelled(metrics.HTTP_DURATION, template, method).observe(took)
            span = self._span
            if span is not None:
                span.update_name(f"{method} {template}")
                span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    tracing.failed(span, f"HTTP {status}")
        await self._send(message)


_UI_HEADERS = [(k.lower().encode(), v.encode()) for k, v in meta.UI_HEADERS.items()]


class _UiHeaders:
    """The UI's static files, with ``meta.UI_HEADERS`` on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_UI_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _limiter(runtime: Runtime) -> Limiter:
    """Rate limits shared by the replicas through Redis in distributed mode; one process's otherwise."""
    redis = getattr(runtime.bus, "redis", None)
    if runtime.settings.embedded or redis is None:
        return MemoryLimiter()
    return RedisLimiter(redis, runtime.settings.redis_key_prefix)


def create_app(runtime: Runtime, *, started: Callable[[], None] | None = None) -> FastAPI:
    """The app over ``runtime``; the runtime's background services start and stop with the app.
    ``started`` is called once they have, before the first request."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            await health.start()  # the first check is done before the app serves
            try:
                await ring.start()  # the keys, before the first request
                if started is not None:
                    started()
                try:
                    yield
                finally:
                    await ring.stop()
            finally:
                await health.stop()
        finally:
            await runtime.stop()

    app = PlanwrightApp(
        title="Planwright",
        version=planwright.__version__,
        description="Submit a goal; a planner makes a plan; workers run it; watch it live.",
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py from installed files, not a CDN
        redoc_url=None,
        **_NO_FASTAPI_TELEMETRY,
    )
    app.state.runtime = runtime
    app.state.health = health = Health(runtime)  # /healthz answers from its last check
    app.state.keyring = ring = KeyRing(runtime.engine, runtime.settings)
    app.state.streams = StreamGate.of(runtime.settings)  # the event streams' cap (services/api/streams.py)
    install_error_handlers(app)
    # events first: its /jobs/changes must win over the jobs router's /jobs/{job_id}.
    for module in (events, jobs, artifacts, task_actions, policy, auth_routes, meta, usage):
        app.include_router(module.router)
    docs.install(app)
    # Innermost: the event streams and GET /jobs/{id} straight to their handlers, past the router,
    # matched in the order the routers were included (direct_routes.py).
    app.add_middleware(DirectRoutes, routes=[(events.router, events.DIRECT), (jobs.router, jobs.DIRECT)])
    # Bounds on request bodies, and OPTIONS answered with Allow (inside CORS, which answers preflights).
    app.add_middleware(
        BodyLimits,
        max_bytes=runtime.settings.max_request_bytes,
        timeout_s=runtime.settings.request_body_timeout_s,
    )
    app.add_middleware(AllowOptions)
    # Hosts, cross-site writes, keys and scopes, rate limits (services/api/auth.py).
    app.add_middleware(Guard, settings=runtime.settings, ring=ring, limiter=_limiter(runtime))
    origins = [o.strip() for o in runtime.settings.planwright_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(RequestTelemetry)
    ui = runtime.settings.planwright_ui_dir
    if (ui / "index.html").is_file():
        # Last, so every API route wins; the UI's pages are plain files of the static export.
        app.mount("/", _UiHeaders(StaticFiles(directory=ui, html=True)), name="ui")
    return app

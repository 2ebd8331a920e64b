"""The FastAPI application. It also hosts the Orchestrator (and, in embedded mode, every service)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import planwright
from planwright.core import metrics
from planwright.services.api.errors import install_error_handlers
from planwright.services.api.routes import artifacts, events, jobs, meta, policy, task_actions
from planwright.services.runtime import Runtime


class RequestMetrics:
    """Counts each request by its route template (``/jobs/{job_id}``, never the id) and times it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                route = scope.get("route")
                template = getattr(route, "path", None) or ("static" if status < 400 else "unmatched")
                metrics.HTTP_REQUESTS.labels(template, scope["method"], str(status)).inc()
                metrics.HTTP_DURATION.labels(template, scope["method"]).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, observe)


def create_app(runtime: Runtime) -> FastAPI:
    """The app over ``runtime``; the runtime's background services start and stop with the app."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Planwright",
        version=planwright.__version__,
        description="Submit a goal; a planner makes a plan; workers run it; watch it live.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    # events first: its /jobs/changes must win over the jobs router's /jobs/{job_id}.
    for module in (events, jobs, artifacts, task_actions, policy, meta):
        app.include_router(module.router)
    origins = [o.strip() for o in runtime.settings.planwright_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(RequestMetrics)
    ui = runtime.settings.planwright_ui_dir
    if (ui / "index.html").is_file():
        # Last, so every API route wins; the UI's pages are plain files of the static export.
        app.mount("/", StaticFiles(directory=ui, html=True), name="ui")
    return app

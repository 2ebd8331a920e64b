"""The FastAPI application. It also hosts the Orchestrator (and, in embedded mode, every service)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

import planwright
from planwright.services.api.errors import install_error_handlers
from planwright.services.api.routes import approvals, artifacts, events, jobs, meta, policy
from planwright.services.runtime import Runtime


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
    for module in (jobs, events, artifacts, approvals, policy, meta):
        app.include_router(module.router)
    origins = [o.strip() for o in runtime.settings.planwright_cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])
    ui = runtime.settings.planwright_ui_dir
    if (ui / "index.html").is_file():
        # Last, so every API route wins; the UI's pages are plain files of the static export.
        app.mount("/", StaticFiles(directory=ui, html=True), name="ui")
    return app

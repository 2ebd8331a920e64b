"""Tools, health, metrics, and the root redirect."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from planwright.services.api import schemas
from planwright.services.api.deps import RuntimeDep
from planwright.services.api.health import Health

router = APIRouter()
# The web UI's pages may not be framed by another site (a framed page's buttons could be clicked
# through a decoy, and its requests would be same-origin), nor read as another type.
UI_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@router.get("/tools", response_model=schemas.ToolsOut, tags=["tools"])
async def list_tools(runtime: RuntimeDep) -> schemas.ToolsOut:
    """Every registered tool with its argument and output JSON schemas, and each MCP server's status."""
    return schemas.ToolsOut(
        tools=[schemas.ToolOut(**spec.describe()) for spec in runtime.registry.specs()],
        servers=[schemas.ServerStatusOut(**asdict(s)) for s in runtime.mcp.statuses()],
    )


@router.get("/healthz", tags=["meta"])
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers; 503 otherwise."""
    # (The docstring is the OpenAPI description, which ui/openapi.json holds.) The answer is the last
    # background check's, every second, of the database and, in distributed mode, Redis; 503 too when
    # no check has completed for a few seconds. No query per call (services/api/health.py).
    health: Health = request.app.state.health
    if not health.running:  # an app driven without its lifespan: no background check, so check now
        await health.check()
    status, body = health.report()
    return JSONResponse(body, status_code=status)


@router.get("/metrics", tags=["meta"], response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus metrics of this process (embedded mode: of every service); docs/observability.md."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
async def root(runtime: RuntimeDep) -> Response:
    """The web UI when it is built; the API docs otherwise."""
    index = runtime.settings.planwright_ui_dir / "index.html"
    if index.is_file():
        return FileResponse(index, media_type="text/html", headers=UI_HEADERS)
    return RedirectResponse("/docs")

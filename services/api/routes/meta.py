"""Tools, health, metrics, and the root redirect."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from planwright.services.api import schemas
from planwright.services.api.deps import RuntimeDep

router = APIRouter()


@router.get("/tools", response_model=list[schemas.ToolOut], tags=["tools"])
async def list_tools(runtime: RuntimeDep) -> list[schemas.ToolOut]:
    """Every registered tool with its argument and output JSON schemas."""
    return [schemas.ToolOut(**spec.describe()) for spec in runtime.registry.specs()]


@router.get("/healthz", tags=["meta"])
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers; 503 otherwise."""
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": str(exc)}, status_code=503)
    mode = "embedded" if runtime.settings.embedded else "distributed"
    return JSONResponse({"status": "ok", "mode": mode, "database": "ok"})


@router.get("/metrics", tags=["meta"], response_class=Response)
async def prometheus_metrics() -> Response:
    """Prometheus metrics of this process (embedded mode: of every service); docs/observability.md."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
async def root(runtime: RuntimeDep) -> Response:
    """The web UI when it is built; the API docs otherwise."""
    index = runtime.settings.planwright_ui_dir / "index.html"
    if index.is_file():
        return FileResponse(index, media_type="text/html")
    return RedirectResponse("/docs")

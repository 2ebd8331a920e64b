"""Artifacts that tools wrote."""

from __future__ import annotations

import re
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from planwright.core.errors import NotFound
from planwright.core.tools_builtin import MEDIA_TYPE_PATTERN
from planwright.services.api import queries, schemas
from planwright.services.api.auth import tenant_of
from planwright.services.api.deps import ConnDep, RuntimeDep

router = APIRouter(tags=["artifacts"])
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": schemas.ErrorOut},
    422: {"model": schemas.ErrorOut},
}


@router.get("/jobs/{job_id}/artifacts", response_model=list[schemas.ArtifactOut], responses=_ERRORS)
async def list_job_artifacts(job_id: UUID, conn: ConnDep, request: Request) -> list[schemas.ArtifactOut]:
    return await queries.list_artifacts(conn, job_id, tenant_of(request))


@router.get("/artifacts/{artifact_id}", response_model=schemas.ArtifactOut, responses=_ERRORS)
async def get_artifact(artifact_id: UUID, conn: ConnDep, request: Request) -> schemas.ArtifactOut:
    return await queries.get_artifact(conn, artifact_id, tenant_of(request))


@router.get("/artifacts/{artifact_id}/content", response_class=FileResponse, responses=_ERRORS)
async def get_artifact_content(
    artifact_id: UUID, conn: ConnDep, runtime: RuntimeDep, request: Request
) -> FileResponse:
    """The artifact's bytes. Sandboxed so that HTML written by a tool can never run in the API's origin."""
    meta = await queries.get_artifact(conn, artifact_id, tenant_of(request))
    path = runtime.artifacts.path_for(meta.sha256)
    # A type stored before media types were checked whole (issue 12) could carry a header: not sent.
    media_type = (
        meta.media_type if re.fullmatch(MEDIA_TYPE_PATTERN, meta.media_type) else "application/octet-stream"
    )
    if not path.is_file():
        raise NotFound(f"the content of artifact {artifact_id} is missing from the artifact store")
    return FileResponse(
        path,
        media_type=media_type,
        filename=meta.name,
        content_disposition_type="inline",
        headers={"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"},
    )

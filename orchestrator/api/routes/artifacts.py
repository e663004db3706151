"""The /artifacts resource: the organisation's artifacts queried by execution, workflow, name and
date; one downloaded by id, or by (workflow, name) at its latest or any version.

Downloads stream from whatever store holds the file (`RPA_ARTIFACT_STORE`), as an attachment the
browser must not sniff, with the safe content type (docs/security.md).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from orchestrator.api.deps import PageDep, SessionDep, SettingsDep, require
from orchestrator.models.executions import Artifact
from orchestrator.schemas.executions import ArtifactPublic
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import artifacts as service
from orchestrator.services.artifact_store import attachment, read_stream
from orchestrator.settings import Settings

router = APIRouter(prefix="/artifacts", tags=["artifacts"])

Reader = Annotated[Principal, Depends(require(Permission.EXECUTIONS_READ))]
_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The file, streamed"}
}


async def artifact_response(settings: Settings, artifact: Artifact) -> StreamingResponse:
    """The artifact's file streamed from the store (404 `artifact_missing` when it is not there)."""
    store = service.artifact_store(settings)
    await asyncio.to_thread(service.check_artifact_file, store, artifact)
    return StreamingResponse(
        read_stream(store, artifact.path),
        media_type=service.safe_content_type(artifact.content_type, settings.artifact_content_types),
        headers={
            "Content-Disposition": attachment(artifact.name),
            "Content-Length": str(artifact.size),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.get("", response_model=Page[ArtifactPublic], summary="The organisation's artifacts, newest first")
async def search(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    execution_id: Annotated[uuid.UUID | None, Query(description="Only this execution's.")] = None,
    workflow_id: Annotated[uuid.UUID | None, Query(description="Only this workflow's.")] = None,
    name: Annotated[str | None, Query(max_length=255, description="Only files of this exact name.")] = None,
    created_from: Annotated[datetime | None, Query(description="Kept at or after this time (ISO 8601).")] = None,
    created_to: Annotated[datetime | None, Query(description="Kept before this time (ISO 8601).")] = None,
    latest: Annotated[bool, Query(description="Only the latest version of each (workflow, name).")] = False,
) -> Page[ArtifactPublic]:
    query = service.ArtifactFilter(execution_id, workflow_id, name, created_from, created_to, latest)
    rows, total = await service.search_artifacts(session, principal.org_id, query, limit=page.limit, offset=page.offset)
    return Page[ArtifactPublic](
        items=[ArtifactPublic.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get(
    "/file",
    response_class=StreamingResponse,
    response_model=None,
    summary="Download a workflow's artifact by name: the latest version, or the one asked for",
    responses=_DOWNLOAD,
)
async def download_by_name(
    principal: Reader,
    session: SessionDep,
    settings: SettingsDep,
    workflow_id: Annotated[uuid.UUID, Query(description="The workflow whose executions kept the file.")],
    name: Annotated[str, Query(min_length=1, max_length=255, description="The file's name.")],
    version: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="A version number; the latest when absent.")
    ] = None,
) -> StreamingResponse:
    artifact = await service.artifact_version(session, principal.org_id, workflow_id, name, version)
    return await artifact_response(settings, artifact)


@router.get("/{artifact_id}/meta", response_model=ArtifactPublic, summary="One artifact's metadata")
async def meta(artifact_id: uuid.UUID, principal: Reader, session: SessionDep) -> ArtifactPublic:
    return ArtifactPublic.of(await service.get_org_artifact(session, principal.org_id, artifact_id))


@router.get(
    "/{artifact_id}",
    response_class=StreamingResponse,
    response_model=None,
    summary="Download one artifact by id",
    responses=_DOWNLOAD,
)
async def download(
    artifact_id: uuid.UUID, principal: Reader, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    return await artifact_response(settings, await service.get_org_artifact(session, principal.org_id, artifact_id))

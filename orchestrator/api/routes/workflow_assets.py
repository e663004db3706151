"""`/workflows/{id}/assets`: the files a flow names relative to its folder (image targets...).

Upload (multipart, one or several files) to the draft, list, download and delete from the draft;
`?version=N` lists and downloads what version N was published with (read-only: versions are
immutable). Same permissions and audit as the other workflow writes; 413 past a size limit.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile

from orchestrator.api.deps import PageDep, SessionDep, actor_for
from orchestrator.api.routes.workflows import IfMatch, Reader, VersionRef, Writer
from orchestrator.errors import Invalid
from orchestrator.models.workflows import Workflow, WorkflowVersion
from orchestrator.schemas.pagination import Page
from orchestrator.schemas.workflows import AssetPublic, AssetsWritten
from orchestrator.services import workflow_assets as assets
from orchestrator.services import workflows as service
from orchestrator.settings import Settings
from shared.flow import ASSET_CONTENT_TYPES

router = APIRouter(prefix="/workflows", tags=["workflows"])

AssetPath = Annotated[str, Path(min_length=1, max_length=255, description="The file's path relative to the flow.")]


def limits_of(settings: Settings) -> assets.AssetLimits:
    return assets.AssetLimits(settings.max_asset_bytes, settings.max_version_asset_bytes, settings.max_assets)


def public(info: assets.AssetInfo) -> AssetPublic:
    return AssetPublic(path=info.path, sha256=info.sha256, size=info.size, content_type=info.content_type)


async def _at(
    session: SessionDep, org_id: uuid.UUID, workflow_id: uuid.UUID, ref: str | None
) -> tuple[Workflow, WorkflowVersion | None]:
    workflow = await service.get_workflow(session, org_id, workflow_id)
    if ref is None or ref == "draft":
        return workflow, None
    return workflow, await service.get_version(session, org_id, workflow_id, int(ref))


@router.post(
    "/{workflow_id}/assets",
    response_model=AssetsWritten,
    status_code=201,
    summary="Add or replace files of the draft (multipart; each part's file name is its relative path)",
    responses={413: {"description": "A file, or the draft's files together, over the limit"}},
)
async def upload_assets(
    workflow_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    principal: Writer,
    files: Annotated[list[UploadFile], File(description="The files; a part's file name is its path.")],
    paths: Annotated[
        list[str] | None, Form(description="The path of each file, in order (default: the parts' file names).")
    ] = None,
    if_match: IfMatch = None,
) -> AssetsWritten:
    if paths is not None and len(paths) != len(files):
        raise Invalid(f"{len(paths)} paths for {len(files)} files", code="invalid_asset")
    names = paths if paths is not None else [upload.filename or "" for upload in files]
    limit = request.app.state.settings.max_asset_bytes
    contents = [(name, await upload.read(limit + 1)) for name, upload in zip(names, files, strict=True)]
    workflow = await service.get_workflow(session, principal.org_id, workflow_id, for_update=True)
    service.check_if_match(workflow, if_match)
    written = await assets.put_draft_assets(
        session, workflow, contents, actor_for(request, principal), limits_of(request.app.state.settings)
    )
    return AssetsWritten(
        items=[public(info) for info in written], draft_revision=workflow.draft_revision, etag=service.etag(workflow)
    )


@router.get(
    "/{workflow_id}/assets",
    response_model=Page[AssetPublic],
    summary="The files of the draft, or of a version (?version=N), by path",
)
async def list_assets(
    workflow_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    version: Annotated[VersionRef, Query(description="draft (default) or a version number")] = None,
) -> Page[AssetPublic]:
    workflow, pinned = await _at(session, principal.org_id, workflow_id, version)
    if pinned is not None:
        found = await assets.version_assets(session, workflow, pinned)
    else:
        found = await assets.draft_assets(session, workflow)
    items = [public(info) for info in found[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(found), limit=page.limit, offset=page.offset)


@router.get(
    "/{workflow_id}/assets/{path:path}",
    summary="Download one file of the draft, or of a version (?version=N)",
    response_class=Response,
    responses={200: {"content": {key: {} for key in ASSET_CONTENT_TYPES}, "description": "The file"}},
)
async def download_asset(
    workflow_id: uuid.UUID,
    path: AssetPath,
    session: SessionDep,
    principal: Reader,
    version: Annotated[VersionRef, Query(description="draft (default) or a version number")] = None,
) -> Response:
    workflow, pinned = await _at(session, principal.org_id, workflow_id, version)
    blob = await assets.read_asset(session, workflow, path, pinned)
    return Response(
        content=blob.data,
        media_type=blob.content_type,
        headers={
            "ETag": f'"{blob.sha256}"',
            "Content-Disposition": "attachment",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/{workflow_id}/assets/{path:path}", status_code=204, summary="Remove a file from the draft")
async def delete_asset(
    workflow_id: uuid.UUID,
    path: AssetPath,
    request: Request,
    session: SessionDep,
    principal: Writer,
    if_match: IfMatch = None,
) -> Response:
    workflow = await service.get_workflow(session, principal.org_id, workflow_id, for_update=True)
    service.check_if_match(workflow, if_match)
    await assets.delete_draft_asset(session, workflow, path, actor_for(request, principal))
    return Response(status_code=204, headers={"ETag": service.etag(workflow)})

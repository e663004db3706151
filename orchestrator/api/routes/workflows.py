"""The /workflows resource: drafts, versions, diff, clone, export and import.

Reads send an `ETag`; `If-None-Match` with the current one gives a 304. Writes to a workflow take
an optional `If-Match`: a stale one is a 412 whose details carry the current ETag.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from orchestrator.api.deps import PageDep, SessionDep, actor_for, require
from orchestrator.errors import Invalid
from orchestrator.models.workflows import Workflow, WorkflowVersion
from orchestrator.schemas.pagination import Page
from orchestrator.schemas.workflow_callers import CallersPublic, PublishCheck
from orchestrator.schemas.workflows import (
    Bundle,
    CloneRequest,
    ConflictPolicy,
    ImportedWorkflow,
    ImportResult,
    PublishRequest,
    TagCount,
    ValidationReport,
    WorkflowCreate,
    WorkflowDiff,
    WorkflowPublic,
    WorkflowSaved,
    WorkflowSort,
    WorkflowSummary,
    WorkflowUpdate,
    WorkflowVersionPublic,
    WorkflowVersionSummary,
)
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import bundles, workflow_assets, workflow_callers
from orchestrator.services import workflows as service
from orchestrator.services.workflow_diff import diff_documents

router = APIRouter(prefix="/workflows", tags=["workflows"])

Reader = Annotated[Principal, Depends(require(Permission.WORKFLOWS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.WORKFLOWS_WRITE))]
Publisher = Annotated[Principal, Depends(require(Permission.WORKFLOWS_PUBLISH))]
Deleter = Annotated[Principal, Depends(require(Permission.WORKFLOWS_DELETE))]
IfMatch = Annotated[str | None, Header(description="An ETag of the workflow; a stale one is refused with 412.")]
IfNoneMatch = Annotated[str | None, Header(description="An ETag; when it is current the answer is 304.")]
VersionNumber = Annotated[int, Path(ge=1, le=999_999_999)]
VersionRef = Annotated[str | None, Query(pattern=r"^(draft|[1-9][0-9]{0,8})$")]


def summary_of(workflow: Workflow) -> WorkflowSummary:
    return WorkflowSummary(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        category=workflow.category,
        tags=list(workflow.tags),
        draft_revision=workflow.draft_revision,
        latest_version=workflow.latest_version,
        sla_seconds=workflow.sla_seconds,
        etag=service.etag(workflow),
        created_by=workflow.created_by,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
    )


def public_of(workflow: Workflow) -> WorkflowPublic:
    return WorkflowPublic(**summary_of(workflow).model_dump(), draft=workflow.draft)


def saved_of(workflow: Workflow, problems: list[dict[str, Any]], response: Response) -> WorkflowSaved:
    response.headers["ETag"] = service.etag(workflow)
    return WorkflowSaved(**public_of(workflow).model_dump(), problems=problems)


def version_of(version: WorkflowVersion) -> WorkflowVersionPublic:
    return WorkflowVersionPublic.model_validate(version, from_attributes=True)


# Static paths first: "/tags" must not be read as a workflow id.


@router.get("/tags", response_model=Page[TagCount], summary="Tags in use, with how many workflows carry each")
async def list_tags(session: SessionDep, principal: Reader, page: PageDep) -> Page[TagCount]:
    rows, total = await service.list_tags(session, principal.org_id, limit=page.limit, offset=page.offset)
    return Page(items=[TagCount(name=t, count=n) for t, n in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/categories", response_model=Page[TagCount], summary="Categories in use, with their workflow counts")
async def list_categories(session: SessionDep, principal: Reader, page: PageDep) -> Page[TagCount]:
    rows, total = await service.list_categories(session, principal.org_id, limit=page.limit, offset=page.offset)
    return Page(items=[TagCount(name=c, count=n) for c, n in rows], total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/import",
    response_model=ImportResult,
    status_code=201,
    summary="Import a bundle (workflows with their versions) exported by an orchestrator",
)
async def import_bundle(
    body: Bundle,
    session: SessionDep,
    principal: Writer,
    request: Request,
    on_conflict: Annotated[
        ConflictPolicy,
        Query(
            description="A name already in use: fail (409), rename the imported workflow, or "
            "replace (delete) the existing one."
        ),
    ] = "fail",
) -> ImportResult:
    created = await bundles.import_bundle(
        session,
        principal.org_id,
        actor_for(request, principal),
        body.model_dump(),
        on_conflict=on_conflict,
        role=principal.role,
    )
    return ImportResult(workflows=[ImportedWorkflow(**c) for c in created])


@router.post(
    "",
    response_model=WorkflowSaved,
    status_code=201,
    summary="Create a workflow; an invalid document is saved as a draft and its problems listed",
)
async def create_workflow(
    body: WorkflowCreate, session: SessionDep, principal: Writer, request: Request, response: Response
) -> WorkflowSaved:
    workflow, problems = await service.create_workflow(
        session,
        principal.org_id,
        actor_for(request, principal),
        name=body.name,
        description=body.description,
        category=body.category,
        tags=body.tags,
        document=body.document,
    )
    response.headers["Location"] = f"{request.url.path}/{workflow.id}"
    return saved_of(workflow, problems, response)


@router.get("", response_model=Page[WorkflowSummary], summary="List workflows, with filters and search")
async def list_workflows(
    session: SessionDep,
    principal: Reader,
    page: PageDep,
    tag: Annotated[
        list[str] | None, Query(description="Only workflows with this tag (repeat: with all of them).")
    ] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in the name or the description.")] = None,
    has_published: Annotated[bool | None, Query(description="Only workflows with (or without) a version.")] = None,
    sort: Annotated[WorkflowSort, Query(description="A field; a leading '-' sorts descending.")] = "-updated_at",
) -> Page[WorkflowSummary]:
    rows, total = await service.list_workflows(
        session,
        principal.org_id,
        limit=page.limit,
        offset=page.offset,
        tags=tag or [],
        category=category,
        q=q,
        has_published=has_published,
        sort=sort,
    )
    return Page(items=[summary_of(w) for w in rows], total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/{workflow_id}",
    response_model=WorkflowPublic,
    summary="A workflow with its draft (ETag; 304 if unchanged)",
    responses={304: {"description": "Not modified (If-None-Match named the current ETag)"}},
)
async def get_workflow(
    workflow_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    workflow = await service.get_workflow(session, principal.org_id, workflow_id)
    tag = service.etag(workflow)
    if service.etag_matches(if_none_match, tag, weak=True):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return public_of(workflow)


@router.patch(
    "/{workflow_id}",
    response_model=WorkflowSaved,
    summary="Edit a workflow's draft or metadata (If-Match for optimistic concurrency)",
)
async def update_workflow(
    workflow_id: uuid.UUID,
    body: WorkflowUpdate,
    session: SessionDep,
    principal: Writer,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> WorkflowSaved:
    workflow, problems = await service.update_workflow(
        session,
        principal.org_id,
        workflow_id,
        actor_for(request, principal),
        body.model_dump(exclude_unset=True),
        if_match=if_match,
    )
    return saved_of(workflow, problems, response)


@router.delete("/{workflow_id}", status_code=204, summary="Delete a workflow (soft: its versions are kept)")
async def delete_workflow(
    workflow_id: uuid.UUID, session: SessionDep, principal: Deleter, request: Request, if_match: IfMatch = None
) -> Response:
    await service.delete_workflow(
        session, principal.org_id, workflow_id, actor_for(request, principal), if_match=if_match
    )
    return Response(status_code=204)


@router.post("/{workflow_id}/validate", response_model=ValidationReport, summary="The problems of the draft")
async def validate_workflow(workflow_id: uuid.UUID, session: SessionDep, principal: Reader) -> ValidationReport:
    problems = await service.validate_draft(session, principal.org_id, workflow_id)
    return ValidationReport(valid=not problems, problems=problems)


@router.post(
    "/{workflow_id}/publish",
    response_model=WorkflowVersionPublic,
    status_code=201,
    summary="Publish the draft as the next immutable version (refused with its problems if invalid)",
)
async def publish_workflow(
    workflow_id: uuid.UUID,
    session: SessionDep,
    principal: Publisher,
    request: Request,
    response: Response,
    body: PublishRequest | None = None,
    if_match: IfMatch = None,
) -> WorkflowVersionPublic:
    version = await service.publish(
        session,
        principal.org_id,
        workflow_id,
        actor_for(request, principal),
        note=body.note if body else "",
        if_match=if_match,
        role=principal.role,
    )
    response.headers["ETag"] = service.etag(version.workflow)
    return version_of(version)


@router.get(
    "/{workflow_id}/callers",
    response_model=CallersPublic,
    summary="The workflows whose draft or latest version call this one by name (`flow.call`)",
)
async def list_callers(workflow_id: uuid.UUID, session: SessionDep, principal: Reader) -> CallersPublic:
    check = await workflow_callers.check(session, principal.org_id, workflow_id)
    return CallersPublic.model_validate(check)


@router.post(
    "/{workflow_id}/publish-check",
    response_model=PublishCheck,
    summary="The callers that publishing the draft would break (its inputs and outputs against the latest version)",
    description="Changes that can break a caller: an input removed, added as required without a default, made "
    "required, or of another type; an output removed or of another declared type. Each caller (draft or latest "
    "version) is listed with the changes that break each of its `flow.call` nodes. Changes nothing.",
)
async def publish_check(workflow_id: uuid.UUID, session: SessionDep, principal: Reader) -> PublishCheck:
    return PublishCheck.model_validate(await workflow_callers.check(session, principal.org_id, workflow_id))


@router.get(
    "/{workflow_id}/versions", response_model=Page[WorkflowVersionSummary], summary="Published versions, newest first"
)
async def list_versions(
    workflow_id: uuid.UUID, session: SessionDep, principal: Reader, page: PageDep
) -> Page[WorkflowVersionSummary]:
    rows, total = await service.list_versions(
        session, principal.org_id, workflow_id, limit=page.limit, offset=page.offset
    )
    return Page(
        items=[WorkflowVersionSummary.model_validate(v, from_attributes=True) for v in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get(
    "/{workflow_id}/versions/{number}",
    response_model=WorkflowVersionPublic,
    summary="One published version with its document (immutable: its ETag never changes)",
    responses={304: {"description": "Not modified"}},
)
async def get_version(
    workflow_id: uuid.UUID,
    number: VersionNumber,
    session: SessionDep,
    principal: Reader,
    response: Response,
    if_none_match: IfNoneMatch = None,
) -> Any:
    version = await service.get_version(session, principal.org_id, workflow_id, number)
    tag = f'"v-{version.id.hex}"'
    if service.etag_matches(if_none_match, tag, weak=True):
        return Response(status_code=304, headers={"ETag": tag})
    response.headers["ETag"] = tag
    return version_of(version)


@router.post(
    "/{workflow_id}/versions/{number}/rollback",
    response_model=WorkflowVersionPublic,
    status_code=201,
    summary="Publish a copy of an earlier version as a new version, and make it the draft",
)
async def rollback_workflow(
    workflow_id: uuid.UUID,
    number: VersionNumber,
    session: SessionDep,
    principal: Publisher,
    request: Request,
    response: Response,
    body: PublishRequest | None = None,
    if_match: IfMatch = None,
) -> WorkflowVersionPublic:
    version = await service.rollback(
        session,
        principal.org_id,
        workflow_id,
        number,
        actor_for(request, principal),
        note=body.note if body else "",
        if_match=if_match,
        role=principal.role,
    )
    response.headers["ETag"] = service.etag(version.workflow)
    return version_of(version)


@router.get(
    "/{workflow_id}/diff",
    response_model=WorkflowDiff,
    summary="What changed between two versions, or a version and the draft",
)
async def diff_workflow(
    workflow_id: uuid.UUID,
    session: SessionDep,
    principal: Reader,
    from_: Annotated[
        VersionRef, Query(alias="from", description="A version number or 'draft' (default: the latest version)")
    ] = None,
    to: Annotated[VersionRef, Query(description="A version number or 'draft' (default: the draft)")] = None,
) -> WorkflowDiff:
    before: int | Literal["draft"]
    if from_ is None:
        workflow = await service.get_workflow(session, principal.org_id, workflow_id)
        if workflow.latest_version is None:
            raise Invalid(
                "from: the workflow has no published version to compare with; give ?from=", code="not_published"
            )
        before = workflow.latest_version
    else:
        before = "draft" if from_ == "draft" else int(from_)
    after: int | Literal["draft"] = "draft" if to in (None, "draft") else int(to)
    changes = diff_documents(
        await service.document_at(session, principal.org_id, workflow_id, before),
        await service.document_at(session, principal.org_id, workflow_id, after),
        service.graph_shape(),
    )
    changes["assets"] = workflow_assets.assets_diff(
        await workflow_assets.asset_map_at(session, principal.org_id, workflow_id, before),
        await workflow_assets.asset_map_at(session, principal.org_id, workflow_id, after),
    )
    changes["identical"] = changes["identical"] and not any(changes["assets"].values())
    return WorkflowDiff.model_validate({"from": before, "to": after, **changes})


@router.post(
    "/{workflow_id}/clone",
    response_model=WorkflowSaved,
    status_code=201,
    summary="Copy a workflow's draft (or a version) and metadata into a new workflow",
)
async def clone_workflow(
    workflow_id: uuid.UUID,
    body: CloneRequest,
    session: SessionDep,
    principal: Writer,
    request: Request,
    response: Response,
) -> WorkflowSaved:
    workflow, problems = await service.clone_workflow(
        session,
        principal.org_id,
        workflow_id,
        actor_for(request, principal),
        name=body.name,
        description=body.description,
        version=body.version,
    )
    response.headers["Location"] = f"{request.url.path.rsplit('/', 2)[0]}/{workflow.id}"
    return saved_of(workflow, problems, response)


@router.get(
    "/{workflow_id}/export",
    response_model=Bundle,
    summary="Export a workflow and the sub-flows it calls as a bundle (never with secret values)",
)
async def export_workflow(workflow_id: uuid.UUID, session: SessionDep, principal: Reader) -> Bundle:
    return Bundle.model_validate(await bundles.export_bundle(session, principal.org_id, workflow_id))

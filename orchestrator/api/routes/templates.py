"""The /templates resource: flow templates from `resources/templates/`, and new workflows made from them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from orchestrator.api.deps import PageDep, SessionDep, actor_for, require
from orchestrator.api.routes.workflows import saved_of
from orchestrator.schemas.pagination import Page
from orchestrator.schemas.workflows import TemplateDetail, TemplateInstantiate, TemplatePublic, WorkflowSaved
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import templates as service
from orchestrator.services import workflows

router = APIRouter(prefix="/templates", tags=["templates"])

Reader = Annotated[Principal, Depends(require(Permission.WORKFLOWS_READ))]
Writer = Annotated[Principal, Depends(require(Permission.WORKFLOWS_WRITE))]
TemplateId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="The template file's stem.")]


def public_of(template: service.Template) -> TemplatePublic:
    return TemplatePublic(
        id=template.id,
        title=template.title,
        description=template.description,
        category=template.category,
        tags=template.tags,
        inputs=template.inputs,
    )


@router.get("", response_model=Page[TemplatePublic], summary="Flow templates, with the inputs each flow takes")
async def list_templates(
    principal: Reader, page: PageDep, category: Annotated[str | None, Query(max_length=100)] = None
) -> Page[TemplatePublic]:
    found = service.list_templates(category)
    items = [public_of(t) for t in found[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(found), limit=page.limit, offset=page.offset)


@router.get("/{template_id}", response_model=TemplateDetail, summary="A template with its flow document")
async def get_template(template_id: TemplateId, principal: Reader) -> TemplateDetail:
    template = service.get_template(template_id)
    return TemplateDetail(**public_of(template).model_dump(), document=template.document)


@router.post(
    "/{template_id}/instantiate",
    response_model=WorkflowSaved,
    status_code=201,
    summary="Create a draft workflow from a template",
)
async def instantiate_template(
    template_id: TemplateId,
    body: TemplateInstantiate,
    session: SessionDep,
    principal: Writer,
    request: Request,
    response: Response,
) -> WorkflowSaved:
    template = service.get_template(template_id)
    workflow, problems = await workflows.create_workflow(
        session,
        principal.org_id,
        actor_for(request, principal),
        name=body.name,
        description=template.description if body.description is None else body.description,
        category=template.category if body.category is None else body.category,
        tags=template.tags if body.tags is None else body.tags,
        document=template.document,
        audit={"template": template.id},
    )
    response.headers["Location"] = f"{request.url.path.split('/templates/')[0]}/workflows/{workflow.id}"
    return saved_of(workflow, problems, response)

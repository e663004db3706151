"""`/artifacts/retention`: read, set and remove the organisation's and its workflows' retention rules.

Mounted before `/artifacts/{artifact_id}`, whose path would otherwise take `retention` for an id.
Setting and removing a rule are audited (`artifact_retention.set` / `.delete`, before and after).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.deps import SessionDep, SettingsDep, actor_for, require
from orchestrator.models.executions import ArtifactRetention
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services.artifact_retention import delete_retention, list_retention, set_retention

router = APIRouter(prefix="/artifacts/retention", tags=["artifacts"])

Reader = Annotated[Principal, Depends(require(Permission.ORG_READ))]
Manager = Annotated[Principal, Depends(require(Permission.ORG_MANAGE))]
WorkflowQuery = Annotated[
    uuid.UUID | None, Query(description="The workflow whose rule this is; absent: the organisation's.")
]


class RetentionBody(BaseModel):
    """A retention rule: files older than `days`, and versions beyond the newest `keep_last` of a
    name, are purged; null for no limit of that kind."""

    model_config = ConfigDict(extra="forbid")

    workflow_id: uuid.UUID | None = Field(default=None, description="A workflow's rule; null: the organisation's.")
    days: int | None = Field(default=None, ge=1, le=36500, description="Days a file is kept.")
    keep_last: int | None = Field(default=None, ge=1, le=100000, description="Versions of a name kept.")

    @classmethod
    def of(cls, row: ArtifactRetention) -> RetentionBody:
        return cls(workflow_id=row.workflow_id, days=row.days, keep_last=row.keep_last)


class RetentionRules(BaseModel):
    """The rules that apply in the organisation: a workflow's own, else the organisation's, else
    the instance's default (`RPA_ARTIFACT_RETENTION_DAYS`, null: kept for ever)."""

    default_days: int | None = Field(description="Days kept where no rule applies (the instance's setting).")
    organisation: RetentionBody | None = Field(description="The organisation's rule; null when it has none.")
    workflows: list[RetentionBody] = Field(description="Workflows with a rule of their own.")


@router.get("", response_model=RetentionRules, summary="The organisation's and its workflows' retention rules")
async def get_rules(principal: Reader, session: SessionDep, settings: SettingsDep) -> RetentionRules:
    rows = await list_retention(session, principal.org_id)
    return RetentionRules(
        default_days=settings.artifact_retention_days,
        organisation=next((RetentionBody.of(r) for r in rows if r.workflow_id is None), None),
        workflows=[RetentionBody.of(r) for r in rows if r.workflow_id is not None],
    )


@router.put("", response_model=RetentionBody, summary="Set the organisation's or a workflow's retention")
async def set_rule(body: RetentionBody, request: Request, principal: Manager, session: SessionDep) -> RetentionBody:
    row = await set_retention(
        session,
        principal.org_id,
        workflow_id=body.workflow_id,
        days=body.days,
        keep_last=body.keep_last,
        actor=actor_for(request, principal),
    )
    return RetentionBody.of(row)


@router.delete(
    "",
    status_code=204,
    response_class=Response,
    summary="Remove the organisation's or a workflow's rule (the next rule up applies again)",
)
async def delete_rule(
    request: Request, principal: Manager, session: SessionDep, workflow_id: WorkflowQuery = None
) -> Response:
    await delete_retention(session, principal.org_id, workflow_id=workflow_id, actor=actor_for(request, principal))
    return Response(status_code=204)

"""The /dashboard resource: an organisation's execution figures for a period (read-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from orchestrator.api.deps import HubDep, SessionDep, require
from orchestrator.db.base import utcnow
from orchestrator.schemas.dashboard import Bucket, DashboardPublic
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import dashboard as service

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

# The figures are about executions: whoever may read executions may read them.
Reader = Annotated[Principal, Depends(require(Permission.EXECUTIONS_READ))]


@router.get(
    "",
    response_model=DashboardPublic,
    summary="Executions by state over time, per workflow (success rate, durations against the SLA), "
    "agents and the queue",
)
async def get_dashboard(
    principal: Reader,
    session: SessionDep,
    hub: HubDep,
    since: Annotated[datetime | None, Query(description="Inclusive; default: 24 hours before `until`.")] = None,
    until: Annotated[datetime | None, Query(description="Exclusive; default: now.")] = None,
    bucket: Annotated[
        Bucket | None, Query(description="Bucket of the time series; default: hour up to two days, else day.")
    ] = None,
) -> DashboardPublic:
    now = utcnow()
    period = service.Period.of(since, until, bucket, now)
    return await service.dashboard(session, principal.org_id, period, status_of=hub.status_of, now=now)

"""The /triggers resource: a workflow's triggers, their state and events; pause, resume, fire."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from orchestrator.api.deps import PageDep, SessionDep, actor_for, require, started
from orchestrator.errors import Conflict
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services.workflows import get_workflow
from orchestrator.triggers import Firer, TriggerSpec
from orchestrator.triggers import _store as store
from orchestrator.triggers._schemas import TriggerCreate, TriggerEventPublic, TriggerPublic, TriggerUpdate

router = APIRouter(tags=["triggers"])

API_PREFIX = "/api/v1"

Reader = Annotated[Principal, Depends(require(Permission.TRIGGERS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.TRIGGERS_MANAGE))]
Starter = Annotated[Principal, Depends(require(Permission.EXECUTIONS_START))]


def hook_url(token: str) -> str:
    return f"{API_PREFIX}/hooks/{token}"


@router.post(
    "/workflows/{workflow_id}/triggers",
    response_model=TriggerPublic,
    status_code=201,
    summary="Add a trigger to a workflow (a webhook's URL is answered only now)",
)
async def create_trigger(
    workflow_id: uuid.UUID, body: TriggerCreate, principal: Manager, session: SessionDep, request: Request
) -> TriggerPublic:
    trigger, token = await store.create_trigger(
        session, principal.org_id, workflow_id, body, actor=actor_for(request, principal)
    )
    return TriggerPublic.of(
        trigger, url=hook_url(token) if token else None, next_fire_times=store.next_fire_times(trigger, 5)
    )


@router.get("/workflows/{workflow_id}/triggers", response_model=Page[TriggerPublic], summary="A workflow's triggers")
async def list_workflow_triggers(
    workflow_id: uuid.UUID, principal: Reader, session: SessionDep, page: PageDep
) -> Page[TriggerPublic]:
    await get_workflow(session, principal.org_id, workflow_id)
    rows, total = await store.list_triggers(
        session, principal.org_id, workflow_id, limit=page.limit, offset=page.offset
    )
    return Page[TriggerPublic](
        items=[TriggerPublic.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/triggers", response_model=Page[TriggerPublic], summary="Every trigger of the organisation")
async def list_triggers(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    workflow_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Page[TriggerPublic]:
    rows, total = await store.list_triggers(
        session, principal.org_id, workflow_id, limit=page.limit, offset=page.offset
    )
    return Page[TriggerPublic](
        items=[TriggerPublic.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/triggers/{trigger_id}", response_model=TriggerPublic, summary="A trigger with its state and last events")
async def get_trigger(
    trigger_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    events: Annotated[int, Query(ge=0, le=500, description="How many of the last events.")] = 20,
    next: Annotated[int, Query(ge=0, le=100, description="Schedule: how many next due times.")] = 5,
) -> TriggerPublic:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    seen = await store.last_events(session, trigger, events) if events else []
    return TriggerPublic.of(
        trigger,
        events=[TriggerEventPublic.of(e) for e in seen],
        next_fire_times=store.next_fire_times(trigger, next),
    )


@router.get("/triggers/{trigger_id}/events", response_model=list[TriggerEventPublic], summary="A trigger's last events")
async def trigger_events(
    trigger_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TriggerEventPublic]:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    return [TriggerEventPublic.of(e) for e in await store.last_events(session, trigger, limit)]


@router.patch("/triggers/{trigger_id}", response_model=TriggerPublic, summary="Change a trigger")
async def update_trigger(
    trigger_id: uuid.UUID, body: TriggerUpdate, principal: Manager, session: SessionDep, request: Request
) -> TriggerPublic:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    await store.update_trigger(session, trigger, body, actor=actor_for(request, principal))
    return TriggerPublic.of(trigger, next_fire_times=store.next_fire_times(trigger, 5))


@router.post("/triggers/{trigger_id}/pause", response_model=TriggerPublic, summary="Pause a trigger")
async def pause_trigger(
    trigger_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request
) -> TriggerPublic:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    await store.set_enabled(session, trigger, False, actor=actor_for(request, principal))
    return TriggerPublic.of(trigger)


@router.post("/triggers/{trigger_id}/resume", response_model=TriggerPublic, summary="Resume a paused trigger")
async def resume_trigger(
    trigger_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request
) -> TriggerPublic:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    await store.set_enabled(session, trigger, True, actor=actor_for(request, principal))
    return TriggerPublic.of(trigger, next_fire_times=store.next_fire_times(trigger, 5))


@router.post(
    "/triggers/{trigger_id}/rekey",
    response_model=TriggerPublic,
    summary="Give a webhook a new URL (the old one stops working)",
)
async def rekey_trigger(
    trigger_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request
) -> TriggerPublic:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    token = await store.rekey_trigger(session, trigger, actor=actor_for(request, principal))
    return TriggerPublic.of(trigger, url=hook_url(token))


@router.delete("/triggers/{trigger_id}", status_code=204, summary="Delete a trigger and its events")
async def delete_trigger(trigger_id: uuid.UUID, principal: Manager, session: SessionDep, request: Request) -> Response:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    await store.delete_trigger(session, trigger, actor=actor_for(request, principal))
    return Response(status_code=204)


class TriggerFire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: dict[str, Any] = Field(default_factory=dict, description="What the input mapping reads as `event`.")
    key: str | None = Field(
        default=None, min_length=1, max_length=500, description="The event's key (a repeat starts nothing new)."
    )


class TriggerFired(BaseModel):
    outcome: str
    execution_id: uuid.UUID | None
    new: bool
    error: str | None


@router.post(
    "/triggers/{trigger_id}/fire",
    response_model=TriggerFired,
    summary="Fire a trigger by hand with a payload, as its event would",
)
async def fire_trigger(
    trigger_id: uuid.UUID, body: TriggerFire, principal: Starter, session: SessionDep, request: Request
) -> TriggerFired:
    trigger = await store.get_trigger(session, principal.org_id, trigger_id)
    if not trigger.enabled:
        raise Conflict("the trigger is paused; resume it first", code="trigger_paused")
    spec = TriggerSpec.of(trigger)
    firer: Firer = started(request.app, "trigger_firer")
    key = body.key or f"manual:{uuid.uuid4()}"
    fired = await firer.fire(spec, key, body.payload, seen=body.key is not None)
    return TriggerFired(outcome=fired.outcome, execution_id=fired.execution_id, new=fired.new, error=fired.error)

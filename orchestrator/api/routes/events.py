"""`POST /events`: publish a named event on the bus; subscribed `event` triggers start at once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from orchestrator.api.deps import require, started
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.triggers import EventBus
from orchestrator.triggers._schemas import EventPublish, EventPublished, EventStarted

router = APIRouter(prefix="/events", tags=["triggers"])

Publisher = Annotated[Principal, Depends(require(Permission.EXECUTIONS_START))]


@router.post(
    "",
    response_model=EventPublished,
    status_code=202,
    summary="Publish an event; each subscribed trigger starts its workflow once per event id",
)
async def publish_event(body: EventPublish, principal: Publisher, request: Request) -> EventPublished:
    bus: EventBus = started(request.app, "trigger_bus")
    published = await bus.publish(principal.org_id, body.name, body.payload, body.id)
    return EventPublished(
        id=published.id,
        name=published.name,
        triggers=[
            EventStarted(trigger_id=trigger_id, outcome=fired.outcome, execution_id=fired.execution_id)
            for trigger_id, fired in published.fired
        ],
    )

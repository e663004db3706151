"""The API's shapes of triggers and their events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.models.triggers import Trigger, TriggerEvent


class TriggerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=20, description="webhook, schedule, chain, event, email, files, …")
    config: dict[str, Any] = Field(default_factory=dict, description="The kind's settings (docs/triggers.md).")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="The execution's inputs; strings may hold `{{ event.… }}` expressions."
    )
    version: int | None = Field(default=None, ge=1, le=1_000_000, description="Pinned version; null: the latest.")
    enabled: bool = True


class TriggerUpdate(BaseModel):
    """Only the fields given change; `version: null` unpins."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    inputs: dict[str, Any] | None = None
    version: int | None = Field(default=None, ge=1, le=1_000_000)
    enabled: bool | None = None


class TriggerEventPublic(BaseModel):
    key: str
    received_at: datetime
    outcome: str
    execution_id: uuid.UUID | None
    error: str | None

    @classmethod
    def of(cls, row: TriggerEvent) -> TriggerEventPublic:
        return cls(
            key=row.key,
            received_at=row.received_at,
            outcome=row.outcome,
            execution_id=row.execution_id,
            error=row.error,
        )


class TriggerState(BaseModel):
    enabled: bool
    fire_count: int
    refused_count: int
    last_fired_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    next_fire_at: datetime | None
    status: str
    running_in: str | None = Field(description="The orchestrator process holding its lease, if any.")


class TriggerPublic(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    kind: str
    name: str
    config: dict[str, Any]
    inputs: dict[str, Any]
    version: int | None
    created_at: datetime
    updated_at: datetime
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    state: TriggerState
    events: list[TriggerEventPublic] = Field(default_factory=list, description="The last events, newest first.")
    next_fire_times: list[datetime] = Field(default_factory=list, description="Schedule: the next due times.")
    url: str | None = Field(default=None, description="Webhook: its URL, answered once, when made or re-keyed.")

    @classmethod
    def of(cls, row: Trigger, **extra: Any) -> TriggerPublic:
        return cls(
            id=row.id,
            workflow_id=row.workflow_id,
            kind=row.kind,
            name=row.name,
            config=row.config,
            inputs=row.inputs,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            created_by=row.created_by,
            updated_by=row.updated_by,
            state=TriggerState(
                enabled=row.enabled,
                fire_count=row.fire_count,
                refused_count=row.refused_count,
                last_fired_at=row.last_fired_at,
                last_error=row.last_error,
                last_error_at=row.last_error_at,
                next_fire_at=row.next_fire_at,
                status=row.status,
                running_in=row.lease_owner if row.lease_expires_at and row.lease_owner else None,
            ),
            **extra,
        )


class EventPublish(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")
    payload: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(
        default=None, min_length=1, max_length=200, description="The event's id (de-duplicates a repeat)."
    )


class EventStarted(BaseModel):
    trigger_id: uuid.UUID
    outcome: str
    execution_id: uuid.UUID | None


class EventPublished(BaseModel):
    id: str
    name: str
    triggers: list[EventStarted]


class HookAccepted(BaseModel):
    execution_id: uuid.UUID | None
    outcome: str
    state: str | None = None
    outputs: Any = None

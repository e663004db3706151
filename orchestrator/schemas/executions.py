"""Executions: what a caller sends to start, cancel or retry one, and what the API shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from orchestrator.models.executions import Artifact, ExecutionEvent, ExecutionTransition
from shared.states import ExecutionStatus

if TYPE_CHECKING:
    from orchestrator.models.execution_records import AnyExecution

PriorityName = Literal["low", "normal", "high", "urgent"]
MAX_VERSION = 2_147_483_647
"""A version number is a 32-bit column."""
MAX_SEQ = 9_223_372_036_854_775_807
"""A journal seq is a 64-bit column: a larger one is refused (422), never sent to the database."""

StateName = ExecutionStatus


class ExecutionCreate(BaseModel):
    """Start a workflow by hand."""

    workflow_id: uuid.UUID
    version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="Default: the latest published version."
    )
    inputs: dict[str, Any] = Field(default_factory=dict, description="Checked against the version's inputs.")
    priority: PriorityName | None = Field(default=None, description="Default: the flow's `settings.priority`.")
    deadline_s: float | None = Field(
        default=None, gt=0, le=366 * 86400, description="Seconds from now after which the execution times out."
    )


MAX_BATCH_STARTS = 100


class ExecutionBatchCreate(BaseModel):
    """Start several executions in one request: all are stored, or none."""

    items: list[ExecutionCreate] = Field(min_length=1, max_length=MAX_BATCH_STARTS)


class ExecutionCancel(BaseModel):
    reason: str = Field(default="", max_length=400)


class ExecutionRetry(BaseModel):
    resume: bool = Field(default=False, description="Resume from the parent's journal instead of starting over.")


class TriggeredBy(BaseModel):
    id: str | None = None
    name: str = ""


class TriggerPublic(BaseModel):
    type: str
    by: TriggeredBy | None = None
    trigger_id: str | None = Field(default=None, description="The trigger that started it (not for manual starts).")
    trigger_name: str | None = None
    key: str | None = Field(default=None, description="The event's key (unique per trigger).")


class AiUsagePublic(BaseModel):
    calls: int = Field(description="Model calls made (each attempt and corrective retry counts).")
    input_tokens: int
    output_tokens: int
    cost_usd: float = Field(description="US dollars, from the agent's price table; unpriced models add nothing.")
    unpriced_calls: int = Field(description="Calls to a model the price table does not know.")


class ExecutionPublic(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    version_id: uuid.UUID
    version_number: int
    state: StateName
    priority: PriorityName
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    trigger: TriggerPublic
    created_by: uuid.UUID | None
    queued_at: datetime | None
    assigned_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    cancel_requested_at: datetime | None
    agent_id: uuid.UUID | None
    previous_agent_id: uuid.UUID | None = Field(
        default=None,
        description="The agent it was last requeued from, after that agent was lost; if that agent "
        "comes back before another one takes the execution, it goes on with it.",
    )
    attempt: int
    last_seq: int
    parent_execution_id: uuid.UUID | None
    resume_from: uuid.UUID | None
    waiting_reason: str | None = Field(default=None, description="Why a queued execution is not running yet.")
    credentials: list[str] = Field(
        default_factory=list, description="The vault credentials its version reads (names only)."
    )
    ai_usage: AiUsagePublic | None = Field(
        default=None,
        description="Tokens and cost of its AI steps, summed from the journal; only on the one-execution "
        "read (null there when it made no AI call, and in lists).",
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AnyExecution) -> ExecutionPublic:
        trigger = dict(row.trigger or {})
        return cls(
            id=row.id,
            workflow_id=row.workflow_id,
            workflow_name=row.workflow_name,
            version_id=row.version_id,
            version_number=row.version_number,
            state=row.state,
            priority=row.priority_name,
            inputs=row.inputs or {},
            outputs=row.outputs,
            error=row.error,
            trigger=TriggerPublic(
                type=trigger.get("type", row.trigger_type),
                by=trigger.get("by"),
                trigger_id=trigger.get("trigger_id"),
                trigger_name=trigger.get("trigger_name"),
                key=trigger.get("key"),
            ),
            created_by=row.created_by,
            queued_at=row.queued_at,
            assigned_at=row.assigned_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            deadline_at=row.deadline_at,
            cancel_requested_at=row.cancel_requested_at,
            agent_id=row.agent_id,
            previous_agent_id=row.previous_agent_id,
            attempt=row.attempt,
            last_seq=row.last_seq,
            parent_execution_id=row.parent_execution_id,
            resume_from=row.resume_from,
            waiting_reason=None,
            credentials=list(row.credentials or ()),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ExecutionBatchPublic(BaseModel):
    items: list[ExecutionPublic] = Field(description="In the order of the request's items.")


class ExecutionEventPublic(BaseModel):
    seq: int
    type: str
    path: str
    data: dict[str, Any]
    ts: float

    @classmethod
    def of(cls, row: ExecutionEvent) -> ExecutionEventPublic:
        return cls(seq=row.seq, type=row.type, path=row.path, data=row.data, ts=row.ts)


class ExecutionEventsPage(BaseModel):
    """Journal events in seq order; ask again with `after_seq=next_after_seq` for more."""

    items: list[ExecutionEventPublic]
    limit: int
    after_seq: int
    next_after_seq: int | None = Field(description="Null when there is nothing after this page.")
    last_seq: int = Field(description="Every event up to this seq is stored (later ones may have gaps).")


class ExecutionTransitionPublic(BaseModel):
    id: uuid.UUID
    seq: int
    from_state: StateName | None
    to_state: StateName
    reason: str
    actor_id: uuid.UUID | None
    actor: str
    at: datetime

    @classmethod
    def of(cls, row: ExecutionTransition) -> ExecutionTransitionPublic:
        return cls(
            id=row.id,
            seq=row.seq,
            from_state=row.from_state,
            to_state=row.to_state,
            reason=row.reason,
            actor_id=row.actor_id,
            actor=row.actor,
            at=row.at,
        )


class ArtifactPublic(BaseModel):
    id: uuid.UUID
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    name: str
    version: int
    size: int
    content_type: str
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, row: Artifact) -> ArtifactPublic:
        return cls(
            id=row.id,
            execution_id=row.execution_id,
            workflow_id=row.workflow_id,
            name=row.name,
            version=row.version,
            size=row.size,
            content_type=row.content_type,
            sha256=row.sha256,
            created_at=row.created_at,
        )

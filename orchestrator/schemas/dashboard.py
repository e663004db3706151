"""Response model of the dashboard: executions over time, per workflow, agents and the queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Bucket = Literal["hour", "day"]


class StateBucket(BaseModel):
    """Executions created in one time bucket, by state (only states with at least one)."""

    start: datetime = Field(description="The start of the bucket (UTC).")
    counts: dict[str, int] = Field(description="State -> how many executions created in the bucket are in it now.")


class WorkflowFigures(BaseModel):
    """One workflow's executions created in the period."""

    workflow_id: uuid.UUID
    name: str = Field(description="The workflow's name (its current one; the execution's if it was deleted).")
    count: int = Field(description="Executions created in the period.")
    succeeded: int
    failed: int = Field(description="Failed or timed out.")
    cancelled: int
    active: int = Field(description="Not finished yet: queued, assigned, running, paused or lost.")
    success_rate: float | None = Field(
        description="succeeded / (succeeded + failed), 0..1; cancelled ones do not count. None when none finished."
    )
    p50_seconds: float | None = Field(description="Median duration (start to end) of those that ran and ended.")
    p95_seconds: float | None = Field(description="95th percentile of the same durations (nearest rank).")
    max_seconds: float | None
    sla_seconds: int | None = Field(description="The workflow's SLA target, if set.")
    breached: int = Field(description="Ended executions that took longer than the SLA target (0 without one).")


class AgentFigures(BaseModel):
    """The organisation's agents now (revoked ones are not counted)."""

    total: int
    online: int = Field(description="Connected and with a free job slot.")
    busy: int = Field(description="Connected, every job slot taken.")
    unresponsive: int = Field(description="Connected but late with its heartbeats.")
    offline: int


class QueueFigures(BaseModel):
    """The queue now, and how long executions of the period waited for an agent."""

    depth: int = Field(description="Executions queued now.")
    oldest_wait_seconds: float | None = Field(description="How long the oldest queued execution has waited.")
    p50_wait_seconds: float | None = Field(
        description="Median wait (queued to assigned) of the executions of the period that were assigned."
    )
    p95_wait_seconds: float | None = Field(description="95th percentile of the same waits (nearest rank).")


class DashboardPublic(BaseModel):
    """The figures of an organisation's executions created in `[since, until)`."""

    since: datetime
    until: datetime
    bucket: Bucket
    generated_at: datetime
    total: int = Field(description="Executions created in the period.")
    states: dict[str, int] = Field(description="State -> executions of the period in it now.")
    buckets: list[StateBucket] = Field(description="Every bucket of the period, in order, empty ones included.")
    workflows: list[WorkflowFigures] = Field(description="By number of executions, most first.")
    agents: AgentFigures
    queue: QueueFigures

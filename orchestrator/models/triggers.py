"""Storage models: triggers and the events they saw (migration 0016).

A `Trigger` belongs to a workflow and starts executions of its published version (or a pinned
one) when its kind says so: a webhook call, a due time, a finished execution of another
workflow, a bus event, or a `TriggerSource` (e-mail, files, database). Its row also holds the
state the API shows (fire count, last fired, last error, next fire time), the lease that lets
exactly one orchestrator process run it, and the source's durable cursor.

A `TriggerEvent` is one event the trigger saw, stored once per `(trigger_id, key)`: the row and
the execution it started are inserted in one transaction (`services/executions.queue_new`), so a
repeated key is a no-op that answers with the first execution.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, TenantMixin, TimestampMixin, UuidMixin, utcnow

TRIGGER_KINDS: tuple[str, ...] = ("webhook", "schedule", "chain", "event", "email", "files", "database")
"""Kinds a trigger row may have; `manual` (API/CLI) and `hotkey` start executions without a row."""

OUTCOMES: tuple[str, ...] = ("started", "filtered", "refused", "failed")


class Trigger(UuidMixin, TimestampMixin, TenantMixin, Base):
    """One trigger of one workflow, with its state, its lease and its source cursor."""

    __tablename__ = "triggers"
    __table_args__ = (
        Index("ix_triggers_org_workflow", "org_id", "workflow_id"),
        Index("ix_triggers_kind_enabled", "kind", "enabled"),
    )

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The kind's settings, validated by its model (`orchestrator/triggers/_kinds.py`)."""
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The execution's inputs: a JSON value whose strings may hold `{{ event.… }}` expressions."""
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    """A pinned version number, or None for the latest published one."""
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    """SHA-256 of a webhook's URL token (the token itself is shown once, at creation)."""
    fire_count: Mapped[int] = mapped_column(Integer, default=0)
    refused_count: Mapped[int] = mapped_column(Integer, default=0)
    """Webhook calls refused (signature, IP, size) and events refused otherwise."""
    last_fired_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(default=None)
    next_fire_at: Mapped[datetime | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(200), default="")
    """What a running source says it does ("idle (IDLE)", "reconnecting in 8 s")."""
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """A source's durable state; for a schedule `{"last_due": ISO}`."""


class TriggerEvent(UuidMixin, TenantMixin, Base):
    """One event a trigger saw and what it became."""

    __tablename__ = "trigger_events"
    __table_args__ = (
        UniqueConstraint("trigger_id", "key", name="uq_trigger_events_trigger_key"),
        Index("ix_trigger_events_trigger_received", "trigger_id", "received_at"),
    )

    trigger_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("triggers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    execution_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)

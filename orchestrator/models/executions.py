"""Storage models: executions, their journal, their state history and their artifacts.

An `Execution` pins one workflow version and carries the row-level facts the API lists and
filters on (state, priority, timings, trigger). The journal the agent writes is stored as
`ExecutionEvent` rows keyed by `(execution_id, seq)`; `ExecutionTransition` keeps every state
change with its reason and actor. States change only in `services/execution_states.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, TenantMixin, TimestampMixin, UuidMixin, utcnow

PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
"""Priority names; the stored value is the index, so `ORDER BY priority DESC` puts urgent first."""


HELD_SQL = "state IN ('assigned', 'running', 'paused')"
"""An execution on an agent, as SQL with literals: a query must say it so to use a partial index on it."""


class Execution(UuidMixin, TimestampMixin, TenantMixin, Base):
    """One run of one pinned workflow version."""

    __tablename__ = "executions"
    __table_args__ = (
        Index("ix_executions_org_created", "org_id", "created_at", "id"),
        Index("ix_executions_org_state", "org_id", "state"),
        Index("ix_executions_state", "state"),
        Index("ix_executions_org_workflow_created", "org_id", "workflow_id", "created_at"),
        # What an agent holds, read at each of its handshakes: only held rows are in it (migration 0012).
        Index("ix_executions_held_agent", "agent_id", sqlite_where=text(HELD_SQL), postgresql_where=text(HELD_SQL)),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    """No index of its own: the composite indexes above start with it (migration 0009)."""
    # No foreign keys to the workflow tables: they live in a parallel migration branch, and a
    # version is immutable once published, so the ids stay meaningful on their own.
    workflow_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    version_number: Mapped[int] = mapped_column(Integer)
    workflow_name: Mapped[str] = mapped_column(String(200), default="")
    """The workflow's name when the execution was created (lists show and search it without a join)."""
    state: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(SmallInteger, default=1)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """`{"type": "manual" | "webhook" | "schedule" | "retry" | …, "by": {"id", "name"}}`."""
    trigger_type: Mapped[str] = mapped_column(String(30), default="manual")
    """`trigger["type"]` as a column, so lists can filter on it on every database."""
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    queued_at: Mapped[datetime | None] = mapped_column(default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    deadline_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    previous_agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The agent it was last requeued from: back before another agent took it, that agent reclaims it."""
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    """1 for the first run; each requeue after a lost agent adds one."""
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """The highest journal seq up to which every event has been stored (no gaps below it)."""
    stored_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The highest journal seq stored at all; above `last_seq` only while a gap waits to be filled."""
    history_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many state changes `execution_transitions` holds for this execution (the last one's seq)."""
    parent_execution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), default=None, index=True
    )
    """The execution this one retries."""
    resume_from: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The execution whose journal this one resumes (set by a retry with `resume`)."""
    credentials: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    """The names of the vault credentials its version reads, allowed for its starter when it
    was started (`services/credential_access.py`)."""

    @property
    def priority_name(self) -> str:
        return PRIORITIES[self.priority]


class ExecutionEvent(Base):
    """One journal event, stored once per `(execution_id, seq)`."""

    __tablename__ = "execution_events"

    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(String(2000), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ts: Mapped[float] = mapped_column(Double)
    """The agent's clock (seconds since the epoch), as journaled."""
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExecutionTransition(UuidMixin, Base):
    """One state change of an execution: from, to, why and who."""

    __tablename__ = "execution_transitions"
    __table_args__ = (UniqueConstraint("execution_id", "seq"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    """1, 2, … per execution: the order of its transitions (several may share a timestamp)."""
    from_state: Mapped[str | None] = mapped_column(String(20), default=None)
    """None for the row that records the execution's creation."""
    to_state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor: Mapped[str] = mapped_column(String(320), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Artifact(UuidMixin, TenantMixin, Base):
    """A file an execution produced; `path` is its key in the artifact store (migration 0014).

    Files a workflow's executions keep under the same name are versions of one artifact: `version`
    counts them per (organisation, workflow, name), 1 for the first."""

    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("org_id", "workflow_id", "name", "version", name="uq_artifacts_workflow_name_version"),
        Index("ix_artifacts_org_created", "org_id", "created_at"),
    )

    execution_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("executions.id", ondelete="CASCADE"), index=True)
    workflow_id: Mapped[uuid.UUID]
    """The execution's workflow (copied: lists by workflow and versions need no join)."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    name: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StartKey(Base):
    """The `Idempotency-Key` of a start: a retry with the same key, from the same caller of the same
    organisation, before `expires_at`, is answered with the executions the first request made."""

    __tablename__ = "start_keys"

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    caller: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    """The user who started (keys of different callers never meet)."""
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the route and the request's validated body: another body under the key is refused."""
    execution_ids: Mapped[list[str]] = mapped_column(JSON)
    """The executions the request made, in the order of its answer."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ArtifactRetention(TenantMixin, Base):
    """How long an organisation's artifacts are kept (`workflow_id` None), or one workflow's
    (overriding its organisation's): files older than `days` and versions beyond the newest
    `keep_last` of a name are purged (migration 0014). None means no limit of that kind."""

    __tablename__ = "artifact_retention"
    __table_args__ = (UniqueConstraint("org_id", "workflow_key", name="uq_artifact_retention_scope"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    workflow_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    workflow_key: Mapped[str] = mapped_column(String(36), default="")
    """`workflow_id` as text, or "" for the organisation's rule (a unique key NULL cannot give)."""
    days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    keep_last: Mapped[int | None] = mapped_column(Integer, nullable=True)

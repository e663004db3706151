"""Storage models: agents and the enrolment tokens they join with.

An `EnrolmentToken` is a one-time secret an administrator hands to a machine; the machine trades
it (`POST /agents/enroll`) for an `Agent` row and that agent's own key. Neither secret is stored:
the rows keep only the SHA-256 hex digest (`token_hash`, `key_hash`), compared in constant time.
Live facts (connected or not, running what) belong to the WebSocket hub; the row keeps what the
agent last reported and when it was last seen.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, SoftDeleteMixin, TenantMixin, TimestampMixin, UuidMixin


class EnrolmentToken(UuidMixin, TimestampMixin, TenantMixin, Base):
    """A one-time ticket to enrol one agent in the organisation, with the labels it will carry."""

    __tablename__ = "enrolment_tokens"
    __table_args__ = (Index("ix_enrolment_tokens_org_created", "org_id", "created_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 hex of the whole token string (`rpa_et_…`)."""
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The agent that enrolled with it. No foreign key: `agents.enrolled_with` points this way already."""
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    description: Mapped[str] = mapped_column(String(500), default="")


class Agent(UuidMixin, TimestampMixin, TenantMixin, SoftDeleteMixin, Base):
    """A machine that runs jobs for the organisation. Names need not be unique: hosts may share one."""

    __tablename__ = "agents"
    __table_args__ = (Index("ix_agents_org_name", "org_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(255), default="")
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    capabilities: Mapped[list[str]] = mapped_column(JSON, default=list)
    steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The step catalogue the agent last reported (step type names)."""
    version: Mapped[str] = mapped_column(String(50), default="")
    max_jobs: Mapped[int] = mapped_column(Integer, default=1)
    key_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 hex of the secret part of the agent's key (`rpa_ak_<id hex>_<secret>`)."""
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    connected_at: Mapped[datetime | None] = mapped_column(default=None)
    disconnected_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    enrolled_with: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enrolment_tokens.id", ondelete="SET NULL"), default=None
    )

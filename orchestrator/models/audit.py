"""The audit log: append-only rows, each hash-chained to the previous one of its organisation.

`AuditHead` holds, per chain, the sequence number and hash of the newest entry. Appending
updates it in the same transaction (which also serialises concurrent writers on one chain), and
verification compares the chain's end against it, so a removed or forged last row is noticed.
The database refuses UPDATE and DELETE on `audit_log` (triggers, see migration 0005).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, new_id, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    chain: Mapped[str] = mapped_column(String(36))
    """The organisation's id as text, or "system" for events outside any organisation. Indexed as
    the first column of the unique (chain, seq)."""
    seq: Mapped[int] = mapped_column(BigInteger)
    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"), index=True, default=None)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    actor: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(100), index=True)
    target_type: Mapped[str] = mapped_column(String(50), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16), default=None)
    """The audit key that sealed it (HMAC-SHA-256); None for an entry written before the chain
    was keyed (plain SHA-256, below its head's `keyed_from`)."""


class AuditHead(Base):
    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    keyed_from: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """The first entry sealed with the audit key; those below it were written unkeyed, before
    the upgrade that keyed the chain (migration 0011)."""

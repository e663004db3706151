"""Storage models: the vault.

A `DataKey` is an organisation's 32-byte data key, stored only wrapped by a master key. A
`Credential` keeps its value only as AES-256-GCM ciphertext under one version of its
organisation's data key; nothing derived from the value (length aside, padded to a bucket) is
stored in clear.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, SoftDeleteMixin, TenantMixin, TimestampMixin, UuidMixin, utcnow


class DataKey(UuidMixin, TenantMixin, Base):
    """One version of an organisation's data key, wrapped (nonce + AES-256-GCM ciphertext)."""

    __tablename__ = "data_keys"
    __table_args__ = (UniqueConstraint("org_id", "version"),)

    version: Mapped[int] = mapped_column(Integer)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(16), index=True)
    """Fingerprint of the master key that wrapped it (see `MasterKey.key_id`)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    """The version new values are encrypted under; exactly one per organisation."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rewrapped_at: Mapped[datetime | None] = mapped_column(default=None)


class Credential(UuidMixin, TimestampMixin, TenantMixin, SoftDeleteMixin, Base):
    """A named secret of one kind; the API returns its metadata, never its value."""

    __tablename__ = "credentials"
    __table_args__ = (
        # A name is unique among the live credentials of an organisation; a deleted one frees it.
        Index(
            "uq_credentials_org_id_name_live",
            "org_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # The data key version a value is encrypted under must exist: a data key still in use
        # cannot be dropped by a rotation that raced with a write.
        ForeignKeyConstraint(
            ["org_id", "data_key_version"], ["data_keys.org_id", "data_keys.version"], name="fk_credentials_data_key"
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    labels: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    """User-provided, non-secret labels (the API calls them `metadata`)."""
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    """Empty once deleted: a deleted value cannot be recovered."""
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_version: Mapped[int | None] = mapped_column(Integer)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)
    access: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Who may use it: `roles` (names, `*` for every role) and the workflow scope (`workflows`
    ids, `categories`, `tags`; none of them: every workflow). See `services/credential_access`."""
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(default=None)

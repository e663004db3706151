"""Organisations, users, roles, memberships and login sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, SoftDeleteMixin, TenantMixin, TimestampMixin, UuidMixin, utcnow


class Organisation(UuidMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    password_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_sessions_per_user: Mapped[int | None] = mapped_column(default=None)


class User(UuidMixin, TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=True)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    """Encrypted with the master key, never stored in clear."""
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int | None] = mapped_column(default=None)
    """The last accepted TOTP time step: a code is never accepted twice."""
    home_org_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The organisation that created the account, the only one that may rename it (no foreign key: the
    account outlives it). An account that joined others by invitation keeps its name there."""
    is_instance_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Administers the instance, not one organisation: set by `rpa admin create`. By default only
    instance admins create organisations and accounts (settings `org_creation`, `account_creation`)."""


class Role(UuidMixin, TimestampMixin, Base):
    """A named set of permissions; `org_id` is null for the built-in roles."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    org_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    builtin: Mapped[bool] = mapped_column(default=False)


class Membership(UuidMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=true())
    """Disabling is per organisation: one tenant's admin never locks a user out of another tenant."""


class AuthSession(UuidMixin, TimestampMixin, TenantMixin, Base):
    """A login: lives as long as its refresh tokens keep rotating; revocable."""

    __tablename__ = "sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoke_reason: Mapped[str | None] = mapped_column(String(100), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)


class RefreshToken(UuidMixin, Base):
    """One refresh token of a session, stored as a SHA-256 hash; used once, then rotated."""

    __tablename__ = "refresh_tokens"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class RecoveryCode(UuidMixin, Base):
    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class PasswordHistory(UuidMixin, Base):
    __tablename__ = "password_history"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(UuidMixin, TimestampMixin, TenantMixin, Base):
    """An organisation's offer of membership to an e-mail address, which only the user holding that
    address can accept or decline. It says nothing about whether such a user exists."""

    __tablename__ = "invitations"

    email: Mapped[str] = mapped_column(String(320), index=True)
    role_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    """pending, accepted, declined or revoked; an expired pending one is shown as expired."""
    responded_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginLockout(UuidMixin, Base):
    """Failed logins for one e-mail address in one scope, and the lockout they led to.

    Keyed by the address as typed (normalised), not by a user, so an address nobody holds counts
    and locks exactly like one somebody does. `scope` is `org:<slug>` (the policy of the
    organisation the login is for; it bars that organisation only) or `src:<address>` (the
    instance's own limit per account and source, which no organisation can change).
    """

    __tablename__ = "login_lockouts"
    __table_args__ = (UniqueConstraint("email", "scope"),)

    email: Mapped[str] = mapped_column(String(320))
    scope: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""Request and response bodies of the identity and access API: auth, sessions, MFA,
organisations, users and roles."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_Strict = ConfigDict(extra="forbid")


# --- auth ---------------------------------------------------------------------------------


class LoginRequest(BaseModel):
    model_config = _Strict

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    org: str | None = Field(default=None, max_length=100, description="Organisation slug; default: the first one.")
    totp_code: str | None = Field(default=None, max_length=12)
    recovery_code: str | None = Field(default=None, max_length=40)


class TokenPairPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_at: int = Field(description="Expiry of the access token (Unix time).")
    session_id: uuid.UUID
    org_id: uuid.UUID
    password_expired: bool = False


class RefreshRequest(BaseModel):
    model_config = _Strict

    refresh_token: str = Field(max_length=200)


class SwitchRequest(BaseModel):
    model_config = _Strict

    org: str = Field(max_length=100, description="Slug of the organisation to open a session in.")


class PasswordChange(BaseModel):
    model_config = _Strict

    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class MeUpdate(BaseModel):
    model_config = _Strict

    name: str = Field(max_length=200)


class MePublic(BaseModel):
    user_id: uuid.UUID
    org_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    role: str
    permissions: list[str]


class SessionPublic(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    ip: str | None
    user_agent: str | None
    current: bool = False


# --- MFA ----------------------------------------------------------------------------------


class TotpEnrolmentPublic(BaseModel):
    secret: str = Field(description="Shown once; the server keeps it encrypted.")
    provisioning_uri: str = Field(description="otpauth:// URI for an authenticator app (QR code).")


class TotpConfirm(BaseModel):
    model_config = _Strict

    code: str = Field(max_length=12)


class RecoveryCodesPublic(BaseModel):
    recovery_codes: list[str] = Field(description="Shown once; each works once instead of a TOTP code.")


class TotpDisable(BaseModel):
    model_config = _Strict

    password: str | None = Field(default=None, max_length=1024)
    code: str | None = Field(default=None, max_length=12, description="A current TOTP code.")


# --- organisations ------------------------------------------------------------------------


class OrgCreate(BaseModel):
    model_config = _Strict

    name: str = Field(min_length=1, max_length=200)


class OrgUpdate(BaseModel):
    """Only the fields sent change. `password_policy` is merged into the current policy."""

    model_config = _Strict

    name: str | None = Field(default=None, min_length=1, max_length=200)
    password_policy: dict[str, Any] | None = None
    ip_allowlist: list[str] | None = Field(default=None, max_length=200)
    max_sessions_per_user: int | None = Field(default=None, ge=1, le=1000)


class OrgPublic(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    password_policy: dict[str, Any]
    ip_allowlist: list[str]
    max_sessions_per_user: int | None
    created_at: datetime


class OrgMembershipPublic(BaseModel):
    """An organisation as one of the caller's: its id, name, slug and the caller's role there."""

    id: uuid.UUID
    name: str
    slug: str
    role: str


# --- users --------------------------------------------------------------------------------


class UserCreate(BaseModel):
    """A new user (password required), or an existing one added by e-mail (no password)."""

    model_config = _Strict

    email: str = Field(max_length=320)
    name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=1024)
    role: str = Field(max_length=100, description="Name of a built-in or custom role.")


class UserUpdate(BaseModel):
    model_config = _Strict

    name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=100)
    is_active: bool | None = Field(default=None, description="Membership in this organisation.")


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    is_active: bool
    mfa_enabled: bool
    locked_until: datetime | None
    created_at: datetime


# --- roles --------------------------------------------------------------------------------


class RoleCreate(BaseModel):
    model_config = _Strict

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    description: str = Field(default="", max_length=500)
    permissions: list[str] = Field(default_factory=list, max_length=100)


class RoleUpdate(BaseModel):
    model_config = _Strict

    name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")
    description: str | None = Field(default=None, max_length=500)
    permissions: list[str] | None = Field(default=None, max_length=100)


class RolePublic(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    permissions: list[str]
    builtin: bool


# --- invitations --------------------------------------------------------------------------


class InvitationCreate(BaseModel):
    """Invite an e-mail address to the organisation; its holder accepts or declines."""

    model_config = _Strict

    email: str = Field(max_length=320)
    role: str = Field(max_length=100, description="Name of a built-in or custom role.")


class InvitationPublic(BaseModel):
    """An invitation as the inviting organisation sees it: whether an account holds the address is
    not part of it."""

    id: uuid.UUID
    email: str
    role: str
    status: str = Field(description="pending, accepted, declined, revoked or expired.")
    invited_by: uuid.UUID | None
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None


class MyInvitationPublic(BaseModel):
    """An invitation as its invitee sees it."""

    id: uuid.UUID
    org_name: str
    org_slug: str
    role: str
    created_at: datetime
    expires_at: datetime

"""Organisations, users, memberships, and the start of a login session.

Services take a session and only flush; the caller owns the transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.models import AuthSession, Membership, Organisation, PasswordHistory, RefreshToken, User
from orchestrator.security.passwords import hash_password
from orchestrator.security.tokens import issue_access_token, new_opaque_token, token_hash
from orchestrator.services.policy import PasswordPolicy
from orchestrator.services.roles import builtin_role

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class IdentityError(Exception):
    """A request about users or organisations that cannot be honoured; the message says why."""

    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise IdentityError(f"'{email}' is not an e-mail address", field="email")
    return email


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return slug or "org"


async def unique_slug(session: AsyncSession, name: str) -> str:
    base = slugify(name)
    taken = set((await session.scalars(select(Organisation.slug).where(Organisation.slug.like(f"{base}%")))).all())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


async def create_user(session: AsyncSession, *, email: str, password: str, name: str = "",
                      policy: PasswordPolicy | None = None) -> User:
    email = normalise_email(email)
    if await session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise IdentityError(f"a user with e-mail {email} already exists", code="conflict", field="email")
    problems = (policy or PasswordPolicy()).problems(password, email=email)
    if problems:
        raise IdentityError("the password " + "; ".join(problems), field="password")
    user = User(email=email, name=name, password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    return user


async def create_org_with_owner(session: AsyncSession, *, org_name: str, email: str, password: str,
                                name: str = "") -> tuple[Organisation, User]:
    """A new organisation whose first member is its owner (an existing user is added as owner)."""
    if not org_name.strip():
        raise IdentityError("the organisation needs a name", field="org")
    org = Organisation(name=org_name.strip(), slug=await unique_slug(session, org_name))
    session.add(org)
    await session.flush()
    existing = await session.scalar(select(User).where(User.email == normalise_email(email)))
    user = existing or await create_user(session, email=email, password=password, name=name)
    owner = await builtin_role(session, "owner")
    session.add(Membership(org_id=org.id, user_id=user.id, role_id=owner.id))
    await session.flush()
    return org, user


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: int
    session_id: uuid.UUID
    org_id: uuid.UUID

    def public(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token, "token_type": "bearer",
                "expires_at": self.expires_at, "session_id": str(self.session_id), "org_id": str(self.org_id)}


async def start_session(session: AsyncSession, *, user: User, org_id: uuid.UUID, signing_key: str,
                        access_ttl_s: int, refresh_ttl_s: int, ip: str | None = None,
                        user_agent: str | None = None) -> TokenPair:
    """Open a login session and issue its first access and refresh tokens."""
    auth = AuthSession(org_id=org_id, user_id=user.id, expires_at=utcnow() + timedelta(seconds=refresh_ttl_s),
                       ip=ip, user_agent=(user_agent or "")[:300] or None)
    session.add(auth)
    await session.flush()
    refresh = new_opaque_token("rt")
    session.add(RefreshToken(session_id=auth.id, token_hash=token_hash(refresh)))
    access, expires = issue_access_token(signing_key, user_id=user.id, org_id=org_id, session_id=auth.id,
                                         ttl_s=access_ttl_s)
    await session.flush()
    return TokenPair(access, refresh, expires, auth.id, org_id)

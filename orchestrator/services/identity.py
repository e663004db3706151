"""Organisations, users, memberships, and the start of a login session.

Services take a session and only flush; the caller owns the transaction. Every lookup of a
member goes through the organisation's memberships, so another tenant's user is a 404.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, Forbidden, Invalid, NotFound
from orchestrator.models import AuthSession, Membership, Organisation, PasswordHistory, RefreshToken, Role, User
from orchestrator.schemas.identity import OrgMembershipPublic, OrgPublic, OrgUpdate, UserCreate, UserPublic, UserUpdate
from orchestrator.security.passwords import hash_password
from orchestrator.security.principal import Principal, ip_allowed
from orchestrator.security.tokens import issue_access_token, new_opaque_token, token_hash
from orchestrator.services import lockouts, rbac
from orchestrator.services.audit import Actor, record
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


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str = "",
    policy: PasswordPolicy | None = None,
    context: tuple[str, ...] = (),
    home_org_id: uuid.UUID | None = None,
) -> User:
    email = normalise_email(email)
    if await session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise IdentityError(f"a user with e-mail {email} already exists", code="conflict", field="email")
    problems = (policy or PasswordPolicy()).problems(password, email=email, context=(name, *context))
    if problems:
        raise IdentityError("the password " + "; ".join(problems), field="password")
    user = User(email=email, name=name, password_hash=hash_password(password), home_org_id=home_org_id)
    session.add(user)
    await session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    return user


async def create_org_with_owner(
    session: AsyncSession, *, org_name: str, email: str, password: str, name: str = "", instance_admin: bool = False
) -> tuple[Organisation, User]:
    """A new organisation whose first member is its owner (an existing user is added as owner);
    `instance_admin` also makes the owner an instance admin (`rpa admin create` does)."""
    if not org_name.strip():
        raise IdentityError("the organisation needs a name", field="org")
    org = Organisation(name=org_name.strip(), slug=await unique_slug(session, org_name))
    session.add(org)
    await session.flush()
    existing = await session.scalar(select(User).where(User.email == normalise_email(email)))
    user = existing or await create_user(
        session, email=email, password=password, name=name, context=(org_name,), home_org_id=org.id
    )
    if instance_admin:
        user.is_instance_admin = True
    owner = await builtin_role(session, "owner")
    session.add(Membership(org_id=org.id, user_id=user.id, role_id=owner.id))
    await session.flush()
    # Every organisation's audit chain starts with its creation: verification expects entry 1.
    await record(
        session,
        org_id=org.id,
        actor=Actor(user.id, user.email),
        action="org.create",
        target_type="organisation",
        target_id=org.id,
        summary={"name": org.name, "slug": org.slug},
    )
    return org, user


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: int
    session_id: uuid.UUID
    org_id: uuid.UUID

    def public(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_at": self.expires_at,
            "session_id": str(self.session_id),
            "org_id": str(self.org_id),
        }


async def start_session(
    session: AsyncSession,
    *,
    user: User,
    org_id: uuid.UUID,
    signing_key: str,
    access_ttl_s: int,
    refresh_ttl_s: int,
    ip: str | None = None,
    user_agent: str | None = None,
) -> TokenPair:
    """Open a login session and issue its first access and refresh tokens."""
    auth = AuthSession(
        org_id=org_id,
        user_id=user.id,
        expires_at=utcnow() + timedelta(seconds=refresh_ttl_s),
        ip=ip,
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(auth)
    await session.flush()
    refresh = new_opaque_token("rt")
    session.add(RefreshToken(session_id=auth.id, token_hash=token_hash(refresh)))
    access, expires = issue_access_token(
        signing_key, user_id=user.id, org_id=org_id, session_id=auth.id, ttl_s=access_ttl_s
    )
    await session.flush()
    return TokenPair(access, refresh, expires, auth.id, org_id)


def revoke(auth: AuthSession, reason: str) -> None:
    """Mark a session revoked (once: the first reason stays)."""
    if auth.revoked_at is None:
        auth.revoked_at, auth.revoke_reason = utcnow(), reason


async def revoke_sessions(
    session: AsyncSession, *, org_id: uuid.UUID | None, user_id: uuid.UUID, reason: str, keep: uuid.UUID | None = None
) -> int:
    """Revoke a user's live sessions (in one organisation, or in all when `org_id` is None)."""
    where = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
    if org_id is not None:
        where.append(AuthSession.org_id == org_id)
    if keep is not None:
        where.append(AuthSession.id != keep)
    rows = (await session.scalars(select(AuthSession).where(*where))).all()
    for auth in rows:
        revoke(auth, reason)
    await session.flush()
    return len(rows)


# --- organisations -------------------------------------------------------------------------


def org_public(org: Organisation) -> OrgPublic:
    return OrgPublic(
        id=org.id,
        name=org.name,
        slug=org.slug,
        password_policy=PasswordPolicy.from_stored(org.password_policy).model_dump(),
        ip_allowlist=list(org.ip_allowlist or []),
        max_sessions_per_user=org.max_sessions_per_user,
        created_at=org.created_at,
    )


async def get_org(session: AsyncSession, org_id: uuid.UUID) -> OrgPublic:
    return org_public(await session.get_one(Organisation, org_id))


def _networks(entries: list[str]) -> list[str]:
    networks, bad = [], []
    for i, entry in enumerate(entries):
        try:
            networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            bad.append({"location": f"body:ip_allowlist.{i}", "message": f"'{entry}' is not an IP address or CIDR"})
    if bad:
        raise Invalid(f"{bad[0]['location']}: {bad[0]['message']}", details=bad)
    return list(dict.fromkeys(networks))


async def update_org(
    session: AsyncSession, *, org_id: uuid.UUID, body: OrgUpdate, caller_ip: str, actor: Actor
) -> OrgPublic:
    """Change what was sent; an allowlist that would shut out the caller's own address is refused."""
    org = await session.get_one(Organisation, org_id)
    sent = body.model_fields_set
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if "name" in sent and body.name is not None:
        before["name"], org.name = org.name, body.name.strip()
        after["name"] = org.name
    if "password_policy" in sent and body.password_policy is not None:
        merged = {**PasswordPolicy.from_stored(org.password_policy).model_dump(), **body.password_policy}
        try:
            policy = PasswordPolicy.model_validate(merged)
        except ValidationError as exc:
            details = [
                {"location": "body:password_policy." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
            raise Invalid(f"{details[0]['location']}: {details[0]['message']}", details=details) from None
        before["password_policy"], org.password_policy = org.password_policy, policy.model_dump()
        after["password_policy"] = org.password_policy
    if "ip_allowlist" in sent:
        allowlist = _networks(body.ip_allowlist or [])
        if not ip_allowed(caller_ip, allowlist):
            raise Conflict(
                f"the allowlist does not include your own address {caller_ip}: saving it would lock you out",
                code="would_lock_out",
                details={"ip": caller_ip},
            )
        before["ip_allowlist"], org.ip_allowlist = org.ip_allowlist, allowlist
        after["ip_allowlist"] = allowlist
    if "max_sessions_per_user" in sent:
        before["max_sessions_per_user"] = org.max_sessions_per_user
        org.max_sessions_per_user = after["max_sessions_per_user"] = body.max_sessions_per_user
    await session.flush()
    await record(
        session,
        org_id=org.id,
        actor=actor,
        action="org.update",
        target_type="organisation",
        target_id=org.id,
        summary={"before": before, "after": after},
    )
    return org_public(org)


async def create_org(
    session: AsyncSession, *, name: str, owner_id: uuid.UUID, org_creation: str, actor: Actor
) -> OrgMembershipPublic:
    """A new organisation owned by an existing user: an instance admin, unless the instance lets
    every member create organisations (`org_creation`)."""
    if org_creation != "members" and not await is_instance_admin(session, owner_id):
        raise Forbidden(
            "only an instance admin may create organisations on this instance", code="org_creation_restricted"
        )
    if not name.strip():
        raise Invalid("body:name: the organisation needs a name")
    org = Organisation(name=name.strip(), slug=await unique_slug(session, name))
    session.add(org)
    await session.flush()
    session.add(Membership(org_id=org.id, user_id=owner_id, role_id=(await builtin_role(session, "owner")).id))
    await session.flush()
    await record(
        session,
        org_id=org.id,
        actor=actor,
        action="org.create",
        target_type="organisation",
        target_id=org.id,
        summary={"name": org.name, "slug": org.slug},
    )
    return OrgMembershipPublic(id=org.id, name=org.name, slug=org.slug, role="owner")


async def list_user_orgs(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[OrgMembershipPublic], int]:
    where = [Membership.user_id == user_id, Membership.is_active.is_(True), Organisation.deleted_at.is_(None)]
    base = (
        select(Organisation, Role)
        .join(Membership, Membership.org_id == Organisation.id)
        .join(Role, Role.id == Membership.role_id)
        .where(*where)
    )
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = (await session.execute(base.order_by(Organisation.name, Organisation.id).limit(limit).offset(offset))).all()
    return [OrgMembershipPublic(id=o.id, name=o.name, slug=o.slug, role=r.name) for o, r in rows], total


# --- members -------------------------------------------------------------------------------


def _user_public(user: User, membership: Membership, role: Role, locked_until: datetime | None = None) -> UserPublic:
    return UserPublic(
        id=user.id,
        email=user.email,
        name=user.name,
        role=role.name,
        is_active=membership.is_active and user.is_active,
        mfa_enabled=user.totp_enabled,
        locked_until=locked_until,
        created_at=user.created_at,
    )


async def _publics(
    session: AsyncSession, org_id: uuid.UUID, rows: Sequence[tuple[User, Membership, Role]]
) -> list[UserPublic]:
    """Members as the organisation sees them: `locked_until` is its own scope's lockout only."""
    slug = await session.scalar(select(Organisation.slug).where(Organisation.id == org_id)) or ""
    locks = await lockouts.org_lockouts(session, slug, [u.email for u, _m, _r in rows])
    return [_user_public(u, m, r, locks.get(u.email)) for u, m, r in rows]


def _members(org_id: uuid.UUID) -> Select[User, Membership, Role]:
    return (
        select(User, Membership, Role)
        .join(Membership, Membership.user_id == User.id)
        .join(Role, Role.id == Membership.role_id)
        .where(Membership.org_id == org_id, User.deleted_at.is_(None))
    )


async def _member(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> tuple[User, Membership, Role]:
    """A member of the organisation; anyone else (another tenant's user included) is a 404."""
    row = (await session.execute(_members(org_id).where(User.id == user_id))).first()
    if row is None:
        raise NotFound(f"no user {user_id} in this organisation")
    user, membership, role = row
    return user, membership, role


async def list_members(
    session: AsyncSession, *, org_id: uuid.UUID, search: str | None, limit: int, offset: int
) -> tuple[list[UserPublic], int]:
    query = _members(org_id)
    if search:
        pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(User.email.ilike(pattern, escape="\\") | User.name.ilike(pattern, escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (await session.execute(query.order_by(User.email).limit(limit).offset(offset))).all()
    return await _publics(session, org_id, rows), total


async def get_member(session: AsyncSession, *, org_id: uuid.UUID, user_id: uuid.UUID) -> UserPublic:
    return (await _publics(session, org_id, [await _member(session, org_id, user_id)]))[0]


async def member_in_reach(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID) -> None:
    """404 for anyone but a member of the caller's organisation; 403 for a member who holds more
    than the caller (`rbac.check_may_act_on`)."""
    _user, _membership, role = await _member(session, principal.org_id, user_id)
    rbac.check_may_act_on(principal, role)


async def add_member(
    session: AsyncSession, *, principal: Principal, body: UserCreate, account_creation: str, actor: Actor
) -> UserPublic:
    """Create a new account, member of the caller's organisation at once, with a password checked
    against the organisation's policy and a role the caller may grant.

    Who may create accounts is the instance's setting (`account_creation`): by default only
    instance admins, because addresses are unique on the instance and a refusal for a taken one
    would tell anyone else which addresses have accounts. An existing user joins by invitation.
    """
    role = await rbac.find_role(session, principal.org_id, body.role)
    rbac.check_may_grant(principal, role)
    if account_creation != "org_admins" and not await is_instance_admin(session, principal.user_id):
        raise Forbidden(
            "only an instance admin may create accounts here; invite the person instead "
            "(POST /invitations), who then accepts with their own account",
            code="account_creation_restricted",
        )
    if not body.password:
        raise Invalid(
            "body:password: a new account needs a password; to add someone who already has an "
            "account, invite them (POST /invitations)",
            details=[{"location": "body:password", "message": "required for a new account"}],
        )
    try:
        email = normalise_email(body.email)
    except IdentityError as exc:
        raise Invalid(f"body:email: {exc.message}") from None
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(
            f"an account with e-mail {email} exists; invite it instead (POST /invitations)", code="user_exists"
        )
    org = await session.get_one(Organisation, principal.org_id)
    policy = PasswordPolicy.from_stored(org.password_policy)
    problems = policy.problems(body.password, email=email, context=[body.name, org.name, org.slug])
    if problems:
        raise Invalid(
            "body:password: the password " + "; ".join(problems),
            code="weak_password",
            details=[{"location": "body:password", "message": p} for p in problems],
        )
    user = User(
        email=email,
        name=body.name.strip(),
        home_org_id=principal.org_id,
        password_hash=await asyncio.to_thread(hash_password, body.password),
    )
    session.add(user)
    await session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    membership = Membership(org_id=principal.org_id, user_id=user.id, role_id=role.id)
    session.add(membership)
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=user.id,
        summary={"email": email, "role": role.name},
    )
    return _user_public(user, membership, role)


async def is_instance_admin(session: AsyncSession, user_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(User.is_instance_admin).where(User.id == user_id)))


async def _active_owners(session: AsyncSession, org_id: uuid.UUID) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Membership)
            .join(Role, Role.id == Membership.role_id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.org_id == org_id,
                Membership.is_active.is_(True),
                Role.builtin.is_(True),
                Role.name == "owner",
                User.is_active.is_(True),
                User.deleted_at.is_(None),
            )
        )
        or 0
    )


async def update_member(
    session: AsyncSession, *, principal: Principal, user_id: uuid.UUID, body: UserUpdate, actor: Actor
) -> UserPublic:
    user, membership, role = await _member(session, principal.org_id, user_id)
    before = {"name": user.name, "role": role.name, "is_active": membership.is_active}
    rbac.check_may_act_on(principal, role)
    new_role = await rbac.find_role(session, principal.org_id, body.role) if body.role is not None else role
    if new_role.id != role.id:
        rbac.check_may_grant(principal, new_role)
    losing_owner = (
        rbac.is_owner_role(role)
        and membership.is_active
        and (not rbac.is_owner_role(new_role) or body.is_active is False)
    )
    if losing_owner and await _active_owners(session, principal.org_id) <= 1:
        raise Conflict("this is the organisation's last owner; make someone else owner first", code="last_owner")
    if body.name is not None and body.name.strip() != user.name:
        if user.home_org_id != principal.org_id:
            # Whether the account belongs to other organisations too is theirs to know, not this one's.
            raise Conflict(
                "this account was not created by this organisation; only its holder changes their "
                "name (PATCH /auth/me)",
                code="not_created_here",
            )
        user.name = body.name.strip()
    membership.role_id = new_role.id
    if body.is_active is not None:
        membership.is_active = body.is_active
        if not body.is_active:
            await revoke_sessions(session, org_id=principal.org_id, user_id=user.id, reason="deactivated")
    await session.flush()
    after = {"name": user.name, "role": new_role.name, "is_active": membership.is_active}
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="user.update",
        target_type="user",
        target_id=user.id,
        summary={"before": before, "after": after},
    )
    return (await _publics(session, principal.org_id, [(user, membership, new_role)]))[0]


async def remove_member(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID, actor: Actor) -> None:
    """End the membership (the user keeps any other organisation) and its sessions."""
    user, membership, role = await _member(session, principal.org_id, user_id)
    rbac.check_may_act_on(principal, role)
    if rbac.is_owner_role(role) and membership.is_active and await _active_owners(session, principal.org_id) <= 1:
        raise Conflict("this is the organisation's last owner and cannot be removed", code="last_owner")
    await revoke_sessions(session, org_id=principal.org_id, user_id=user.id, reason="membership_removed")
    await session.delete(membership)
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="user.remove",
        target_type="user",
        target_id=user.id,
        summary={"email": user.email, "role": role.name},
    )


async def rename_self(session: AsyncSession, *, principal: Principal, name: str, actor: Actor) -> None:
    """The caller changes their own name, everywhere they are a member."""
    user = await session.get_one(User, principal.user_id)
    before, user.name = user.name, name.strip()
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="user.rename_self",
        target_type="user",
        target_id=user.id,
        summary={"before": before, "after": user.name},
    )

"""Invitations: membership of an existing account needs its holder's consent.

An organisation invites an e-mail address; the user holding it (if any) lists, accepts or
declines it. The inviting organisation sees the invitation pending until then, and learns
nothing about whether the address has an account: the answer to an invitation is the same for
any address. An invitee sees only the invitations addressed to them. Services only flush.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, Invalid, NotFound
from orchestrator.models import Invitation, Membership, Organisation, Role, User
from orchestrator.schemas.identity import InvitationCreate, InvitationPublic, MyInvitationPublic, OrgMembershipPublic
from orchestrator.security.principal import Principal
from orchestrator.services import rbac
from orchestrator.services.audit import Actor, record
from orchestrator.services.identity import IdentityError, normalise_email

PENDING, ACCEPTED, DECLINED, REVOKED, EXPIRED = "pending", "accepted", "declined", "revoked", "expired"


def _status(invitation: Invitation) -> str:
    if invitation.status == PENDING and invitation.expires_at <= utcnow():
        return EXPIRED
    return invitation.status


def _public(invitation: Invitation, role: Role) -> InvitationPublic:
    return InvitationPublic(
        id=invitation.id,
        email=invitation.email,
        role=role.name,
        status=_status(invitation),
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        responded_at=invitation.responded_at,
    )


def _email(raw: str) -> str:
    try:
        return normalise_email(raw)
    except IdentityError as exc:
        raise Invalid(
            f"body:email: {exc.message}", details=[{"location": "body:email", "message": exc.message}]
        ) from None


async def invite(
    session: AsyncSession, *, principal: Principal, body: InvitationCreate, ttl_s: int, actor: Actor
) -> InvitationPublic:
    """A pending invitation of an address, with a role the caller may grant."""
    role = await rbac.find_role(session, principal.org_id, body.role)
    rbac.check_may_grant(principal, role)
    email = _email(body.email)
    member = await session.scalar(
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == principal.org_id, User.email == email)
    )
    if member is not None:  # the organisation's own members are its own business
        raise Conflict(f"{email} is already a member of this organisation", code="already_member")
    now = utcnow()
    if await session.scalar(
        select(Invitation.id).where(
            Invitation.org_id == principal.org_id,
            Invitation.email == email,
            Invitation.status == PENDING,
            Invitation.expires_at > now,
        )
    ):
        raise Conflict(f"{email} already has a pending invitation; revoke it to send another", code="already_invited")
    invitation = Invitation(
        org_id=principal.org_id,
        email=email,
        role_id=role.id,
        invited_by=principal.user_id,
        expires_at=now + timedelta(seconds=ttl_s),
        status=PENDING,
    )
    session.add(invitation)
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="invitation.create",
        target_type="invitation",
        target_id=invitation.id,
        summary={"email": email, "role": role.name},
    )
    return _public(invitation, role)


async def list_org_invitations(
    session: AsyncSession, *, org_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[InvitationPublic], int]:
    where = Invitation.org_id == org_id
    total = await session.scalar(select(func.count()).select_from(Invitation).where(where)) or 0
    rows = (
        await session.execute(
            select(Invitation, Role)
            .join(Role, Role.id == Invitation.role_id)
            .where(where)
            .order_by(Invitation.created_at.desc(), Invitation.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [_public(i, r) for i, r in rows], total


async def revoke(session: AsyncSession, *, principal: Principal, invitation_id: uuid.UUID, actor: Actor) -> None:
    invitation = await session.scalar(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.org_id == principal.org_id)
    )
    if invitation is None:
        raise NotFound(f"no invitation {invitation_id} in this organisation")
    if _status(invitation) != PENDING:
        raise Conflict(f"the invitation is {_status(invitation)}, not pending", code="invitation_closed")
    invitation.status, invitation.responded_at = REVOKED, utcnow()
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="invitation.revoke",
        target_type="invitation",
        target_id=invitation.id,
        summary={"email": invitation.email},
    )


async def list_mine(
    session: AsyncSession, *, email: str, limit: int, offset: int
) -> tuple[list[MyInvitationPublic], int]:
    """The pending, unexpired invitations addressed to the caller's e-mail."""
    where = [
        Invitation.email == email,
        Invitation.status == PENDING,
        Invitation.expires_at > utcnow(),
        Organisation.deleted_at.is_(None),
    ]
    base = (
        select(Invitation, Organisation, Role)
        .join(Organisation, Organisation.id == Invitation.org_id)
        .join(Role, Role.id == Invitation.role_id)
        .where(*where)
    )
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = (
        await session.execute(base.order_by(Invitation.created_at.desc(), Invitation.id).limit(limit).offset(offset))
    ).all()
    return [
        MyInvitationPublic(
            id=i.id, org_name=o.name, org_slug=o.slug, role=r.name, created_at=i.created_at, expires_at=i.expires_at
        )
        for i, o, r in rows
    ], total


async def _mine(session: AsyncSession, *, user_id: uuid.UUID, invitation_id: uuid.UUID) -> tuple[Invitation, User]:
    """An invitation addressed to the caller; anyone else's is a 404, and so is an organisation gone."""
    user = await session.get_one(User, user_id)
    invitation = await session.scalar(
        select(Invitation)
        .join(Organisation, Organisation.id == Invitation.org_id)
        .where(Invitation.id == invitation_id, Invitation.email == user.email, Organisation.deleted_at.is_(None))
    )
    if invitation is None:
        raise NotFound(f"no invitation {invitation_id} for you")
    status = _status(invitation)
    if status != PENDING:
        raise Conflict(
            f"the invitation is {status}; only a pending one can be answered",
            code="invitation_expired" if status == EXPIRED else "invitation_closed",
        )
    return invitation, user


async def accept(
    session: AsyncSession, *, user_id: uuid.UUID, invitation_id: uuid.UUID, actor: Actor
) -> OrgMembershipPublic:
    """Join the inviting organisation with the invitation's role (log in to it with `org`)."""
    invitation, user = await _mine(session, user_id=user_id, invitation_id=invitation_id)
    org = await session.get_one(Organisation, invitation.org_id)
    role = await session.get_one(Role, invitation.role_id)
    if (
        await session.scalar(select(Membership.id).where(Membership.org_id == org.id, Membership.user_id == user.id))
        is None
    ):
        session.add(Membership(org_id=org.id, user_id=user.id, role_id=role.id))
    invitation.status, invitation.responded_at = ACCEPTED, utcnow()
    await session.flush()
    await record(
        session,
        org_id=org.id,
        actor=actor,
        action="invitation.accept",
        target_type="invitation",
        target_id=invitation.id,
        summary={"email": user.email, "role": role.name},
    )
    return OrgMembershipPublic(id=org.id, name=org.name, slug=org.slug, role=role.name)


async def decline(session: AsyncSession, *, user_id: uuid.UUID, invitation_id: uuid.UUID, actor: Actor) -> None:
    invitation, user = await _mine(session, user_id=user_id, invitation_id=invitation_id)
    invitation.status, invitation.responded_at = DECLINED, utcnow()
    await session.flush()
    await record(
        session,
        org_id=invitation.org_id,
        actor=actor,
        action="invitation.decline",
        target_type="invitation",
        target_id=invitation.id,
        summary={"email": user.email},
    )

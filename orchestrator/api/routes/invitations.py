"""The /invitations resource: the organisation's offers of membership, pending until answered.

The invitee's side (list, accept, decline) is under /auth/invitations: it acts on the caller's own
account, whichever organisation their session is in.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from orchestrator.api.deps import PageDep, SessionDep, SettingsDep, actor_for, require
from orchestrator.schemas.identity import InvitationCreate, InvitationPublic
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import invitations

router = APIRouter(prefix="/invitations", tags=["users"])

Reader = Annotated[Principal, Depends(require(Permission.USERS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]


@router.get("", response_model=Page[InvitationPublic], summary="The organisation's invitations, newest first")
async def list_invitations(principal: Reader, session: SessionDep, page: PageDep) -> Page[InvitationPublic]:
    items, total = await invitations.list_org_invitations(
        session, org_id=principal.org_id, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "",
    status_code=201,
    response_model=InvitationPublic,
    summary="Invite an e-mail address to the organisation with a role",
    description="The answer is the same whether or not the address has an account. Its holder "
    "accepts or declines with POST /auth/invitations/{id}/accept or /decline; until then "
    "it is pending, and after `RPA_INVITATION_TTL_S` expired.",
)
async def create_invitation(
    body: InvitationCreate, request: Request, principal: Manager, session: SessionDep, settings: SettingsDep
) -> InvitationPublic:
    return await invitations.invite(
        session, principal=principal, body=body, ttl_s=settings.invitation_ttl_s, actor=actor_for(request, principal)
    )


@router.delete("/{invitation_id}", status_code=204, summary="Revoke a pending invitation")
async def revoke_invitation(
    invitation_id: uuid.UUID, request: Request, principal: Manager, session: SessionDep
) -> None:
    await invitations.revoke(
        session, principal=principal, invitation_id=invitation_id, actor=actor_for(request, principal)
    )

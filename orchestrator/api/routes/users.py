"""The /users resource: the members of the caller's organisation, and their sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from orchestrator.api.deps import PageDep, SessionDep, SettingsDep, actor_for, require
from orchestrator.schemas.identity import SessionPublic, UserCreate, UserPublic, UserUpdate
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import auth, identity

router = APIRouter(prefix="/users", tags=["users"])

Reader = Annotated[Principal, Depends(require(Permission.USERS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
SessionManager = Annotated[Principal, Depends(require(Permission.SESSIONS_MANAGE))]


@router.get("", response_model=Page[UserPublic], summary="Members of the organisation")
async def list_users(
    principal: Reader,
    session: SessionDep,
    page: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="Part of an e-mail or name.")] = None,
) -> Page[UserPublic]:
    items, total = await identity.list_members(
        session, org_id=principal.org_id, search=q, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "",
    status_code=201,
    response_model=UserPublic,
    summary="Create a new account, member of this organisation at once",
    description="By default only instance admins create accounts (403 `account_creation_restricted`; "
    "setting `RPA_ACCOUNT_CREATION`). Someone who has an account joins by invitation: "
    "POST /invitations.",
)
async def create_user(
    body: UserCreate, request: Request, principal: Manager, session: SessionDep, settings: SettingsDep
) -> UserPublic:
    return await identity.add_member(
        session,
        principal=principal,
        body=body,
        account_creation=settings.account_creation,
        actor=actor_for(request, principal),
    )


@router.get("/{user_id}", response_model=UserPublic, summary="One member")
async def get_user(user_id: uuid.UUID, principal: Reader, session: SessionDep) -> UserPublic:
    return await identity.get_member(session, org_id=principal.org_id, user_id=user_id)


@router.patch("/{user_id}", response_model=UserPublic, summary="Change a member's name, role or active state")
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, request: Request, principal: Manager, session: SessionDep
) -> UserPublic:
    return await identity.update_member(
        session, principal=principal, user_id=user_id, body=body, actor=actor_for(request, principal)
    )


@router.delete("/{user_id}", status_code=204, summary="Remove a member from the organisation")
async def delete_user(user_id: uuid.UUID, request: Request, principal: Manager, session: SessionDep) -> None:
    await identity.remove_member(session, principal=principal, user_id=user_id, actor=actor_for(request, principal))


@router.get("/{user_id}/sessions", response_model=Page[SessionPublic], summary="A member's sessions")
async def user_sessions(
    user_id: uuid.UUID,
    principal: SessionManager,
    session: SessionDep,
    page: PageDep,
    include_revoked: Annotated[bool, Query(description="Also revoked and expired ones.")] = False,
) -> Page[SessionPublic]:
    await identity.member_in_reach(session, principal=principal, user_id=user_id)
    items, total = await auth.list_sessions(
        session,
        org_id=principal.org_id,
        user_id=user_id,
        limit=page.limit,
        offset=page.offset,
        include_revoked=include_revoked,
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.delete("/{user_id}/sessions", status_code=204, summary="Log a member out everywhere in this organisation")
async def revoke_user_sessions(
    user_id: uuid.UUID, request: Request, principal: SessionManager, session: SessionDep
) -> None:
    await auth.force_logout(session, principal=principal, user_id=user_id, actor=actor_for(request, principal))

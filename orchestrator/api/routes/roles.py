"""The /roles resource: built-in roles (read-only) and the organisation's custom roles."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from orchestrator.api.deps import PageDep, SessionDep, actor_for, require
from orchestrator.schemas.identity import RoleCreate, RolePublic, RoleUpdate
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import rbac

router = APIRouter(prefix="/roles", tags=["roles"])

Reader = Annotated[Principal, Depends(require(Permission.USERS_READ))]
Manager = Annotated[Principal, Depends(require(Permission.ROLES_MANAGE))]


@router.get("", response_model=Page[RolePublic], summary="Built-in roles and this organisation's custom roles")
async def list_roles(principal: Reader, session: SessionDep, page: PageDep) -> Page[RolePublic]:
    items, total = await rbac.list_roles(session, principal.org_id, page.limit, page.offset)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "",
    status_code=201,
    response_model=RolePublic,
    summary="Create a custom role",
    description="Unknown permission names are a 422 naming them; you can only hand out permissions you hold.",
)
async def create_role(body: RoleCreate, request: Request, principal: Manager, session: SessionDep) -> RolePublic:
    return await rbac.create_role(session, principal=principal, body=body, actor=actor_for(request, principal))


@router.patch("/{role_id}", response_model=RolePublic, summary="Change a custom role (built-ins are read-only)")
async def update_role(
    role_id: uuid.UUID, body: RoleUpdate, request: Request, principal: Manager, session: SessionDep
) -> RolePublic:
    return await rbac.update_role(
        session, principal=principal, role_id=role_id, body=body, actor=actor_for(request, principal)
    )


@router.delete("/{role_id}", status_code=204, summary="Delete a custom role that no member holds")
async def delete_role(role_id: uuid.UUID, request: Request, principal: Manager, session: SessionDep) -> None:
    await rbac.delete_role(session, principal=principal, role_id=role_id, actor=actor_for(request, principal))

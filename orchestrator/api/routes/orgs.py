"""The /orgs resource: the caller's organisation, its settings, and the caller's other ones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from orchestrator.api.deps import (
    PageDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    actor_for,
    client_ip,
    require,
)
from orchestrator.schemas.identity import OrgCreate, OrgMembershipPublic, OrgPublic, OrgUpdate
from orchestrator.schemas.pagination import Page
from orchestrator.security.permissions import Permission
from orchestrator.security.principal import Principal
from orchestrator.services import identity

router = APIRouter(prefix="/orgs", tags=["orgs"])

SELF_SERVICE = frozenset({"/orgs"})
"""GET and POST /orgs act on the caller's own memberships: no organisation's permission applies (who may
create one is the instance's setting `org_creation`)."""


@router.get("", response_model=Page[OrgMembershipPublic], summary="Your organisations and your role in each")
async def list_orgs(principal: PrincipalDep, session: SessionDep, page: PageDep) -> Page[OrgMembershipPublic]:
    items, total = await identity.list_user_orgs(
        session, user_id=principal.user_id, limit=page.limit, offset=page.offset
    )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "",
    status_code=201,
    response_model=OrgMembershipPublic,
    summary="Create an organisation that you own (log in to it with `org` or POST /auth/switch)",
    description="By default only instance admins may (403 `org_creation_restricted`; setting `RPA_ORG_CREATION`).",
)
async def create_org(
    body: OrgCreate, request: Request, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> OrgMembershipPublic:
    return await identity.create_org(
        session,
        name=body.name,
        owner_id=principal.user_id,
        org_creation=settings.org_creation,
        actor=actor_for(request, principal),
    )


@router.get("/current", response_model=OrgPublic, summary="The organisation of the current session")
async def current_org(
    principal: Annotated[Principal, Depends(require(Permission.ORG_READ))], session: SessionDep
) -> OrgPublic:
    return await identity.get_org(session, principal.org_id)


@router.patch(
    "/current",
    response_model=OrgPublic,
    summary="Change the name, password policy, IP allowlist or session limit",
    description="`password_policy` is merged into the current one. An `ip_allowlist` that does not "
    "include the caller's own address is refused (409 `would_lock_out`); [] allows all.",
)
async def update_org(
    body: OrgUpdate,
    request: Request,
    principal: Annotated[Principal, Depends(require(Permission.ORG_MANAGE))],
    session: SessionDep,
) -> OrgPublic:
    return await identity.update_org(
        session, org_id=principal.org_id, body=body, caller_ip=client_ip(request), actor=actor_for(request, principal)
    )

"""Roles: the built-in ones (read-only, shared by every organisation) and each organisation's
custom roles; and the rules for granting them.

Granting rules (no one hands out more than they hold):
- only an owner grants the owner role;
- a role may be granted, created or edited only with permissions the caller holds.

One rule for acting on another member (`check_may_act_on`), applied by every route that does:
changing them, removing them, listing or revoking their sessions. A member who holds more than
the caller (the owner role while the caller is no owner, or any permission the caller lacks) is
out of the caller's reach: 403 `owner_only` or `holds_more`.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.errors import Conflict, Forbidden, Invalid, NotFound
from orchestrator.models import Membership, Role
from orchestrator.schemas.identity import RoleCreate, RolePublic, RoleUpdate
from orchestrator.security.permissions import BUILTIN_ROLES, Permission
from orchestrator.security.principal import Principal
from orchestrator.services.audit import Actor, record

OWNER = "owner"


def role_public(role: Role) -> RolePublic:
    return RolePublic(
        id=role.id,
        name=role.name,
        description=role.description,
        permissions=sorted(role.permissions),
        builtin=role.builtin,
    )


def is_owner_role(role: Role) -> bool:
    return role.builtin and role.name == OWNER


def visible(org_id: uuid.UUID) -> ColumnElement[bool]:
    """The roles an organisation can see: the built-in ones and its own."""
    return or_(Role.org_id.is_(None), Role.org_id == org_id)


async def find_role(session: AsyncSession, org_id: uuid.UUID, name: str, *, field: str = "body:role") -> Role:
    role: Role | None = await session.scalar(select(Role).where(visible(org_id), Role.name == name.strip()))
    if role is None:
        raise Invalid(
            f"{field}: no role named '{name}' in this organisation",
            details=[{"location": field, "message": f"unknown role '{name}'"}],
        )
    return role


def check_may_grant(principal: Principal, role: Role) -> None:
    if is_owner_role(role) and principal.role != OWNER:
        raise Forbidden("only an owner may grant the owner role", code="owner_only")
    beyond = sorted(set(role.permissions) - principal.permissions)
    if beyond:
        raise Forbidden(
            f"role '{role.name}' holds permissions you do not hold: {', '.join(beyond)}",
            details={"permissions": beyond},
        )


def check_may_act_on(principal: Principal, target_role: Role, *, what: str = "this member's role") -> None:
    """Refuse unless `principal` holds at least what `target_role` holds.

    Every route that acts on another member (or edits a role, which acts on its holders) asks this,
    with the role the target holds now.
    """
    if is_owner_role(target_role) and principal.role != OWNER:
        raise Forbidden("only an owner may change, remove or act on an owner", code="owner_only")
    beyond = sorted(set(target_role.permissions) - principal.permissions)
    if beyond:
        raise Forbidden(
            f"{what} '{target_role.name}' holds permissions you do not hold: {', '.join(beyond)}",
            code="holds_more",
            details={"permissions": beyond},
        )


def validate_permissions(names: list[str], principal: Principal, field: str = "body:permissions") -> list[str]:
    known = {p.value for p in Permission}
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        raise Invalid(
            f"{field}: unknown permission(s): {', '.join(unknown)}",
            code="unknown_permission",
            details=[{"location": field, "message": f"unknown permission '{n}'"} for n in unknown],
        )
    beyond = sorted(set(names) - principal.permissions)
    if beyond:
        raise Forbidden(
            f"you cannot hand out permissions you do not hold: {', '.join(beyond)}", details={"permissions": beyond}
        )
    return sorted(set(names))


async def list_roles(session: AsyncSession, org_id: uuid.UUID, limit: int, offset: int) -> tuple[list[RolePublic], int]:
    where = visible(org_id)
    total = await session.scalar(select(func.count()).select_from(Role).where(where)) or 0
    rows = (
        await session.scalars(
            select(Role).where(where).order_by(Role.builtin.desc(), Role.name).limit(limit).offset(offset)
        )
    ).all()
    return [role_public(r) for r in rows], total


async def _own_role(session: AsyncSession, org_id: uuid.UUID, role_id: uuid.UUID) -> Role:
    role: Role | None = await session.scalar(select(Role).where(Role.id == role_id, visible(org_id)))
    if role is None:
        raise NotFound(f"no role {role_id} in this organisation")
    if role.builtin:
        raise Forbidden(f"'{role.name}' is a built-in role and cannot be changed", code="builtin_role")
    return role


async def _check_name_free(
    session: AsyncSession, org_id: uuid.UUID, name: str, *, ignore: uuid.UUID | None = None
) -> None:
    if name.lower() in BUILTIN_ROLES:
        raise Conflict(f"'{name}' is the name of a built-in role", code="name_taken")
    query = select(Role.id).where(visible(org_id), func.lower(Role.name) == name.lower())
    if ignore is not None:
        query = query.where(Role.id != ignore)
    if await session.scalar(query):
        raise Conflict(f"a role named '{name}' already exists", code="name_taken")


async def create_role(session: AsyncSession, *, principal: Principal, body: RoleCreate, actor: Actor) -> RolePublic:
    permissions = validate_permissions(body.permissions, principal)
    name = body.name.strip()
    await _check_name_free(session, principal.org_id, name)
    role = Role(
        org_id=principal.org_id, name=name, description=body.description, permissions=permissions, builtin=False
    )
    session.add(role)
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="role.create",
        target_type="role",
        target_id=role.id,
        summary={"name": name, "permissions": permissions},
    )
    return role_public(role)


async def update_role(
    session: AsyncSession, *, principal: Principal, role_id: uuid.UUID, body: RoleUpdate, actor: Actor
) -> RolePublic:
    role = await _own_role(session, principal.org_id, role_id)
    before = {"name": role.name, "description": role.description, "permissions": sorted(role.permissions)}
    # Editing a role changes what its holders can do: the caller must hold what it has and gets.
    check_may_act_on(principal, role, what="role")
    if body.name is not None and body.name.strip() != role.name:
        await _check_name_free(session, principal.org_id, body.name.strip(), ignore=role.id)
        role.name = body.name.strip()
    if body.description is not None:
        role.description = body.description
    if body.permissions is not None:
        role.permissions = validate_permissions(body.permissions, principal)
    await session.flush()
    after = {"name": role.name, "description": role.description, "permissions": sorted(role.permissions)}
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="role.update",
        target_type="role",
        target_id=role.id,
        summary={"before": before, "after": after},
    )
    return role_public(role)


async def delete_role(session: AsyncSession, *, principal: Principal, role_id: uuid.UUID, actor: Actor) -> None:
    role = await _own_role(session, principal.org_id, role_id)
    check_may_act_on(principal, role, what="role")
    holders = await session.scalar(select(func.count()).select_from(Membership).where(Membership.role_id == role.id))
    if holders:
        raise Conflict(
            f"role '{role.name}' is held by {holders} member(s); give them another role first",
            code="role_in_use",
            details={"members": holders},
        )
    await session.delete(role)
    await session.flush()
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="role.delete",
        target_type="role",
        target_id=role_id,
        summary={"name": role.name},
    )

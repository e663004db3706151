"""Built-in roles: seeded at start-up, kept in step with the permission catalogue."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.models import Role
from orchestrator.security.permissions import BUILTIN_ROLES

DESCRIPTIONS = {
    "owner": "Everything, including granting the owner role.",
    "admin": "Everything but granting the owner role.",
    "designer": "Builds, publishes and runs workflows.",
    "operator": "Starts, watches and cancels executions.",
    "viewer": "Reads workflows, executions and agents.",
}


async def ensure_builtin_roles(session: AsyncSession) -> None:
    existing = {r.name: r for r in (await session.scalars(select(Role).where(Role.org_id.is_(None)))).all()}
    for name, permissions in BUILTIN_ROLES.items():
        values = sorted(p.value for p in permissions)
        role = existing.get(name)
        if role is None:
            session.add(Role(org_id=None, name=name, description=DESCRIPTIONS[name], permissions=values, builtin=True))
        elif sorted(role.permissions) != values:
            role.permissions = values
    await session.flush()


async def builtin_role(session: AsyncSession, name: str) -> Role:
    role = await session.scalar(select(Role).where(Role.org_id.is_(None), Role.name == name))
    if role is None:
        raise LookupError(f"built-in role {name!r} is missing; start the orchestrator once to seed it")
    return role

"""Agents: authentication by key, listing, changes, revocation; their live status from the hub.

Invariants:
- An agent authenticates with its own key only (`authenticate_agent`): a revoked or deleted
  agent, or one of a deleted organisation, never does. Digests are compared in constant time.
- Revocation is final: a revoked agent keeps its row (and history) but no key of it works again;
  deleting an agent revokes it too. After a revocation is committed the hub is told to drop the
  agent's connection (`notify_agent_revoked`).
- Live status comes from the hub (`runtime/hub.AgentHub`, which routes get from `api/deps.HubDep`);
  an agent the hub does not hold is `offline` unless revoked.

Enrolment (tokens, `enroll`) lives in `runtime.enrolment` and is re-exported here.
Functions only flush; the caller owns the transaction.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from sqlalchemy import ColumnElement, cast, exists, func, literal_column, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, NotFound
from orchestrator.logging import remember
from orchestrator.models.agents import Agent
from orchestrator.models.identity import Organisation
from orchestrator.runtime.enrolment import (
    create_enrolment_token,
    digest,
    enroll,
    list_tokens,
    new_agent_key,
    normalise_labels,
    parse_agent_key,
    revoke_token,
    token_state,
)
from orchestrator.runtime.hub import AgentHub
from orchestrator.schemas.agents import AgentStatus, AgentUpdate
from orchestrator.services.audit import Actor, record

__all__ = [
    "AgentFilter",
    "AgentHub",
    "Presence",
    "authenticate_agent",
    "create_enrolment_token",
    "delete_agent",
    "enroll",
    "get_agent",
    "list_agents",
    "list_tokens",
    "notify_agent_revoked",
    "presence_of",
    "revoke_agent",
    "revoke_token",
    "rotate_agent_key",
    "token_state",
    "update_agent",
]

LIVE_STATUSES: frozenset[str] = frozenset(get_args(AgentStatus)) - {"revoked"}
_NO_MATCH = "0" * 64


@dataclass(frozen=True)
class Presence:
    status: AgentStatus
    running: list[uuid.UUID] = field(default_factory=list)


def _live_status(hub: AgentHub | None, agent_id: uuid.UUID) -> AgentStatus:
    status = hub.status_of(agent_id) if hub is not None else None
    return status if status in LIVE_STATUSES else "offline"  # type: ignore[return-value]


def presence_of(agent: Agent, hub: AgentHub | None) -> Presence:
    """The agent's status and running executions: `revoked` from the row, the rest from the hub."""
    if agent.revoked_at is not None:
        return Presence("revoked")
    status = _live_status(hub, agent.id)
    return Presence(status, list(hub.running_of(agent.id)) if hub is not None else [])


async def notify_agent_revoked(hub: AgentHub, agent_id: uuid.UUID, *, reason: str = "revoked") -> None:
    """Tell the hub to drop the agent's connection. Call it once the revocation (or the key
    rotation) is committed."""
    await hub.disconnect(agent_id, reason=reason)


# --- authentication ---------------------------------------------------------------------------


async def authenticate_agent(session: AsyncSession, key: str) -> Agent | None:
    """The live agent whose key this is, else None (malformed, unknown, wrong secret, revoked, deleted)."""
    parsed = parse_agent_key(key)
    if parsed is None:
        return None
    agent_id, secret = parsed
    agent = await session.scalar(
        select(Agent)
        .join(Organisation, Organisation.id == Agent.org_id)
        .where(
            Agent.id == agent_id,
            Agent.revoked_at.is_(None),
            Agent.deleted_at.is_(None),
            Organisation.deleted_at.is_(None),
        )
    )
    # Compare even when there is no agent, so the answer takes as long either way.
    matches = hmac.compare_digest(digest(secret), agent.key_hash if agent is not None else _NO_MATCH)
    return agent if agent is not None and matches else None


# --- listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentFilter:
    status: AgentStatus | None = None
    label: str | None = None
    """Agents carrying this label."""
    q: str | None = None
    """Case-insensitive substring of the name or hostname."""


def _has_label(session: AsyncSession, label: str) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(Agent.labels, JSONB).contains([label])
    each = func.json_each(Agent.labels).table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == label))


async def _ids_by_status(
    session: AsyncSession, org_id: uuid.UUID, hub: AgentHub | None, status: AgentStatus
) -> list[uuid.UUID]:
    """The organisation's unrevoked agents whose live status is `status` (asks the hub of each)."""
    ids = (
        await session.scalars(
            select(Agent.id).where(Agent.org_id == org_id, Agent.deleted_at.is_(None), Agent.revoked_at.is_(None))
        )
    ).all()
    return [agent_id for agent_id in ids if _live_status(hub, agent_id) == status]


async def list_agents(
    session: AsyncSession, org_id: uuid.UUID, filters: AgentFilter, *, hub: AgentHub | None, limit: int, offset: int
) -> tuple[Sequence[Agent], int]:
    """The organisation's agents matching `filters`, by name, and how many match."""
    where: list[ColumnElement[bool]] = [Agent.org_id == org_id, Agent.deleted_at.is_(None)]
    if filters.status == "revoked":
        where.append(Agent.revoked_at.is_not(None))
    elif filters.status is not None:
        where.append(Agent.id.in_(await _ids_by_status(session, org_id, hub, filters.status)))
    if filters.label:
        where.append(_has_label(session, filters.label))
    if filters.q:
        pattern = filters.q.lower().replace("\x00", "")
        where.append(
            func.lower(Agent.name).contains(pattern, autoescape=True)
            | func.lower(Agent.hostname).contains(pattern, autoescape=True)
        )
    total = await session.scalar(select(func.count()).select_from(Agent).where(*where)) or 0
    rows = await session.scalars(select(Agent).where(*where).order_by(Agent.name, Agent.id).limit(limit).offset(offset))
    return rows.all(), total


async def get_agent(session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    agent = await session.scalar(
        select(Agent).where(Agent.id == agent_id, Agent.org_id == org_id, Agent.deleted_at.is_(None))
    )
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    return agent


# --- changes ----------------------------------------------------------------------------------


async def update_agent(
    session: AsyncSession, actor: Actor, org_id: uuid.UUID, agent_id: uuid.UUID, data: AgentUpdate
) -> Agent:
    agent = await get_agent(session, org_id, agent_id)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changes: dict[str, Any] = {
        "name": data.name,
        "max_jobs": data.max_jobs,
        "labels": None if data.labels is None else normalise_labels(data.labels),
    }
    for name, value in changes.items():
        if value is not None and value != getattr(agent, name):
            before[name], after[name] = getattr(agent, name), value
            setattr(agent, name, value)
    if after:
        await session.flush()
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="agent.update",
            target_type="agent",
            target_id=agent.id,
            summary={"name": agent.name, "before": before, "after": after},
        )
    return agent


async def revoke_agent(session: AsyncSession, actor: Actor, org_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    """Revoke the agent's key for good (again: nothing changes). Then call `notify_agent_revoked`."""
    agent = await get_agent(session, org_id, agent_id)
    if agent.revoked_at is None:
        agent.revoked_at = utcnow()
        await session.flush()
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="agent.revoke",
            target_type="agent",
            target_id=agent.id,
            summary={"name": agent.name, "hostname": agent.hostname},
        )
    return agent


async def rotate_agent_key(
    session: AsyncSession, actor: Actor, org_id: uuid.UUID, agent_id: uuid.UUID
) -> tuple[Agent, str]:
    """A new key for the agent (returned once); the old one stops working. A revoked agent gets none."""
    agent = await get_agent(session, org_id, agent_id)
    if agent.revoked_at is not None:
        raise Conflict("the agent is revoked; enrol the machine again", code="agent_revoked")
    key, agent.key_hash = new_agent_key(agent.id)
    remember(key)
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="agent.rotate_key",
        target_type="agent",
        target_id=agent.id,
        summary={"name": agent.name},
    )
    return agent, key


async def delete_agent(session: AsyncSession, actor: Actor, org_id: uuid.UUID, agent_id: uuid.UUID) -> Agent:
    """Soft delete, revoking it too. Then call `notify_agent_revoked`."""
    agent = await get_agent(session, org_id, agent_id)
    now = utcnow()
    agent.revoked_at = agent.revoked_at or now
    agent.deleted_at = now
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="agent.delete",
        target_type="agent",
        target_id=agent.id,
        summary={"name": agent.name, "hostname": agent.hostname},
    )
    return agent

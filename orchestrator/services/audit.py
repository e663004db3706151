"""Append audit entries, each hash-chained to the previous entry of its chain (one chain per
organisation, plus "system")."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.models import AuditEntry

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, an agent, or the system."""

    id: uuid.UUID | None
    name: str
    ip: str | None = None
    request_id: str | None = None


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's content and the previous hash (canonical JSON)."""
    content = {
        "chain": entry.chain, "seq": entry.seq, "org_id": str(entry.org_id) if entry.org_id else None,
        "actor_id": str(entry.actor_id) if entry.actor_id else None, "actor": entry.actor, "action": entry.action,
        "target_type": entry.target_type, "target_id": entry.target_id, "ip": entry.ip,
        "request_id": entry.request_id, "summary": entry.summary,
        "created_at": entry.created_at.replace(tzinfo=None).isoformat(timespec="microseconds"),
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


async def record(session: AsyncSession, *, org_id: uuid.UUID | None, actor: Actor, action: str,
                 target_type: str = "", target_id: str | uuid.UUID = "",
                 summary: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry. `summary` must never hold secret values (callers pass metadata only)."""
    chain = str(org_id) if org_id else "system"
    last = (await session.execute(
        select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.chain == chain)
        .order_by(AuditEntry.seq.desc()).limit(1).with_for_update()
    )).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = AuditEntry(chain=chain, seq=seq, org_id=org_id, actor_id=actor.id, actor=actor.name, action=action,
                       target_type=target_type, target_id=str(target_id), ip=actor.ip, request_id=actor.request_id,
                       summary=summary or {}, created_at=utcnow(),
                       prev_hash=prev, hash="")
    entry.hash = entry_hash(entry)
    session.add(entry)
    await session.flush()
    return entry

"""Idempotency keys of starts (`Idempotency-Key` on `POST /executions` and `/executions/batch`).

A client that lost the answer to a start cannot tell whether the execution was stored; with a key
it may simply send the same request again. The key is stored with the executions the request
made, in the same transaction (`queue_new`), so there is never an execution without its key nor
a key without its executions. A request that comes with a key:

- whose key is stored (same organisation, same caller, not expired) for the same route and body
  is answered with the executions the first request made, as they are now, and stores nothing;
- whose key is stored for another route or body is refused (422 `idempotency_key_reused`);
- whose key is new is started as usual; should a concurrent request with the same key have been
  stored first, the primary key refuses this one's and it is answered as a repeat.

Keys are kept `RPA_IDEMPOTENCY_TTL_S` (a day by default); expired keys are deleted when new keys
are stored.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Invalid
from orchestrator.models.executions import Execution, StartKey

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class KeyedStart:
    """A start request's key, who sent it and what it asked for."""

    org_id: uuid.UUID
    caller: uuid.UUID
    key: str
    request_hash: str

    def row(self, execution_ids: list[uuid.UUID], ttl_s: float, now: datetime | None = None) -> dict[str, Any]:
        """The row to store with the executions the request made."""
        now = now or utcnow()
        return {
            "org_id": self.org_id,
            "caller": self.caller,
            "key": self.key,
            "request_hash": self.request_hash,
            "execution_ids": [str(e) for e in execution_ids],
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_s),
        }


def parse_key(value: str | None) -> str | None:
    """The header's key, or None without one.

    Raises:
        Invalid: `invalid_idempotency_key` when it is empty, longer than 255 characters, or not
            printable ASCII.
    """
    if value is None:
        return None
    key = value.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise Invalid(
            f"the Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
            code="invalid_idempotency_key",
            details={"location": "header.Idempotency-Key"},
        )
    return key


def request_hash(route: str, body: Any) -> str:
    """SHA-256 of the route and the validated body (key order and defaults do not matter)."""
    canonical = json.dumps([route, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find(session: AsyncSession, start: KeyedStart) -> list[Execution] | None:
    """The executions a stored, unexpired request with this key made (as they are now, in the order
    of its answer), or None if there is none.

    Raises:
        Invalid: `idempotency_key_reused` when the key was used for another route or body.
    """
    row = (
        await session.execute(
            select(StartKey.request_hash, StartKey.execution_ids).where(
                StartKey.org_id == start.org_id,
                StartKey.caller == start.caller,
                StartKey.key == start.key,
                StartKey.expires_at > utcnow(),
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != start.request_hash:
        raise Invalid(
            "this Idempotency-Key was used for a different request; use a new key for a new start",
            code="idempotency_key_reused",
            details={"location": "header.Idempotency-Key"},
        )
    ids = [uuid.UUID(e) for e in row.execution_ids]
    found = {
        execution.id: execution
        for execution in await session.scalars(
            select(Execution).where(Execution.org_id == start.org_id, Execution.id.in_(ids))
        )
    }
    return [found[execution_id] for execution_id in ids if execution_id in found]


async def store(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Store keys (one INSERT), after deleting the expired ones: a key used again after it expired
    is a new key. A key stored meanwhile by a concurrent request makes the INSERT fail."""
    if not rows:
        return
    await session.execute(delete(StartKey).where(StartKey.expires_at <= utcnow()))
    await session.execute(insert(StartKey), rows)

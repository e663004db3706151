"""Enrolment: one-time tokens an administrator makes, and the trade of one for an agent and its key.

Invariants:
- A token (`rpa_et_<32 url-safe characters>`) or an agent key (`rpa_ak_<agent id hex>_<secret>`)
  exists in clear only in the response that issues it. The database keeps SHA-256 hex digests
  (of the whole token; of the key's secret part), compared with `hmac.compare_digest`. No value
  is logged or audited.
- A token enrols at most one agent: the row is locked (`FOR UPDATE` on PostgreSQL) and claimed
  by a conditional UPDATE that only an unused, unrevoked, unexpired token passes (which also
  serialises two claims on SQLite, where the lock is a no-op).
- An unknown, used, expired or revoked token is refused alike (401 `invalid_enrolment_token`):
  the answer does not tell a guesser which.

Functions only flush; the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, NotFound, Unauthorized
from orchestrator.logging import remember
from orchestrator.models.agents import Agent, EnrolmentToken
from orchestrator.models.identity import Organisation
from orchestrator.schemas.agents import TokenState
from orchestrator.services.audit import Actor, record
from shared.protocol import AGENT_KEY_PREFIX

__all__ = [
    "TOKEN_PREFIX",
    "create_enrolment_token",
    "digest",
    "enroll",
    "list_tokens",
    "new_agent_key",
    "normalise_labels",
    "parse_agent_key",
    "revoke_token",
    "token_state",
]

log = logging.getLogger("rpa.orchestrator.agents")

TOKEN_PREFIX = "rpa_et_"
INVALID_TOKEN = "invalid_enrolment_token"


# --- secrets ----------------------------------------------------------------------------------


def digest(secret: str) -> str:
    """SHA-256 hex of `secret`: what is stored instead of it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_enrolment_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(24)  # 24 bytes: 32 characters


def new_agent_key(agent_id: uuid.UUID) -> tuple[str, str]:
    """A fresh key for the agent and the digest to store: `(key, key_hash)`."""
    secret = secrets.token_urlsafe(32)
    return f"{AGENT_KEY_PREFIX}{agent_id.hex}_{secret}", digest(secret)


def parse_agent_key(key: str) -> tuple[uuid.UUID, str] | None:
    """`(agent id, secret)` of a well-formed agent key, else None."""
    if not key.startswith(AGENT_KEY_PREFIX):
        return None
    id_hex, sep, secret = key[len(AGENT_KEY_PREFIX) :].partition("_")
    if not sep or not secret or len(id_hex) != 32:
        return None
    try:
        return uuid.UUID(hex=id_hex), secret
    except ValueError:
        return None


def normalise_labels(*groups: Iterable[str]) -> list[str]:
    """The union of the label groups, sorted (labels are a set)."""
    return sorted({label for group in groups for label in group})


# --- tokens -----------------------------------------------------------------------------------


def token_state(token: EnrolmentToken, now: datetime | None = None) -> TokenState:
    if token.used_at is not None:
        return "used"
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def _state_clause(state: TokenState, now: datetime) -> ColumnElement[bool]:
    unused = EnrolmentToken.used_at.is_(None)
    live = and_(unused, EnrolmentToken.revoked_at.is_(None))
    return {
        "used": EnrolmentToken.used_at.is_not(None),
        "revoked": and_(unused, EnrolmentToken.revoked_at.is_not(None)),
        "expired": and_(live, EnrolmentToken.expires_at <= now),
        "active": and_(live, EnrolmentToken.expires_at > now),
    }[state]


async def create_enrolment_token(
    session: AsyncSession,
    actor: Actor,
    org_id: uuid.UUID,
    *,
    labels: Iterable[str] = (),
    expires_in_s: int = 3600,
    description: str = "",
) -> tuple[EnrolmentToken, str]:
    """A new token of the organisation and its value (returned once, never stored)."""
    value = new_enrolment_token()
    remember(value)
    token = EnrolmentToken(
        org_id=org_id,
        token_hash=digest(value),
        labels=normalise_labels(labels),
        expires_at=utcnow() + timedelta(seconds=expires_in_s),
        created_by=actor.id,
        description=description,
    )
    session.add(token)
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="enrolment_token.create",
        target_type="enrolment_token",
        target_id=token.id,
        summary={"labels": token.labels, "expires_at": token.expires_at.isoformat(), "description": description},
    )
    return token, value


async def list_tokens(
    session: AsyncSession, org_id: uuid.UUID, *, state: TokenState | None = None, limit: int, offset: int
) -> tuple[Sequence[EnrolmentToken], int]:
    """The organisation's tokens, newest first, and how many match."""
    where: list[ColumnElement[bool]] = [EnrolmentToken.org_id == org_id]
    if state is not None:
        where.append(_state_clause(state, utcnow()))
    total = await session.scalar(select(func.count()).select_from(EnrolmentToken).where(*where)) or 0
    rows = await session.scalars(
        select(EnrolmentToken)
        .where(*where)
        .order_by(EnrolmentToken.created_at.desc(), EnrolmentToken.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), total


async def get_token(session: AsyncSession, org_id: uuid.UUID, token_id: uuid.UUID) -> EnrolmentToken:
    token = await session.scalar(
        select(EnrolmentToken).where(EnrolmentToken.id == token_id, EnrolmentToken.org_id == org_id)
    )
    if token is None:
        raise NotFound(f"no enrolment token {token_id}")
    return token


async def revoke_token(session: AsyncSession, actor: Actor, org_id: uuid.UUID, token_id: uuid.UUID) -> EnrolmentToken:
    """Revoke an unused token (again: nothing changes). A used one is a 409: revoke its agent."""
    token = await get_token(session, org_id, token_id)
    if token.used_at is not None:
        raise Conflict(
            "the token was used already; revoke the agent it enrolled instead",
            code="enrolment_token_used",
            details={"agent_id": str(token.agent_id)},
        )
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await session.flush()
        await record(
            session,
            org_id=org_id,
            actor=actor,
            action="enrolment_token.revoke",
            target_type="enrolment_token",
            target_id=token.id,
            summary={"labels": token.labels, "description": token.description},
        )
    return token


# --- enrolment --------------------------------------------------------------------------------


def _refused() -> Unauthorized:
    return Unauthorized(
        "the enrolment token is not valid: it may be unknown, used, expired or revoked", code=INVALID_TOKEN
    )


async def enroll(
    session: AsyncSession,
    token: str,
    *,
    name: str,
    hostname: str = "",
    labels: Iterable[str] = (),
    version: str = "",
    ip: str | None = None,
    request_id: str | None = None,
) -> tuple[Agent, str]:
    """Trade an enrolment token for a new agent and its key (returned once, never stored).

    The agent's labels are the token's labels plus `labels`. Audited as `agent.enrolled` by
    `agent:<name>`.

    Raises:
        Unauthorized: 401 `invalid_enrolment_token`, whatever is wrong with the token.
    """
    if not token.startswith(TOKEN_PREFIX):
        raise _refused()
    token_hash = digest(token)
    row = await session.scalar(select(EnrolmentToken).where(EnrolmentToken.token_hash == token_hash).with_for_update())
    now = utcnow()
    if row is None or not hmac.compare_digest(row.token_hash, token_hash):
        raise _refused()
    if (
        token_state(row, now) != "active"
        or await session.scalar(select(Organisation.deleted_at).where(Organisation.id == row.org_id)) is not None
    ):
        log.warning("refused an enrolment with token %s (%s)", row.id, token_state(row, now))
        raise _refused()
    agent_id = uuid.uuid4()
    # The claim itself re-checks the token's state: on SQLite the lock above is a no-op, and the
    # write lock this UPDATE takes is what lets only one of two racing enrolments through.
    claimed = await session.execute(
        update(EnrolmentToken)
        .where(
            EnrolmentToken.id == row.id,
            EnrolmentToken.used_at.is_(None),
            EnrolmentToken.revoked_at.is_(None),
            EnrolmentToken.expires_at > now,
        )
        .values(used_at=now, agent_id=agent_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        log.warning("refused an enrolment with token %s (claimed meanwhile)", row.id)
        raise _refused()
    await session.refresh(row)
    key, key_hash = new_agent_key(agent_id)
    remember(key)
    agent = Agent(
        id=agent_id,
        org_id=row.org_id,
        name=name,
        hostname=hostname,
        labels=normalise_labels(row.labels or [], labels),
        version=version,
        key_hash=key_hash,
        enrolled_with=row.id,
    )
    session.add(agent)
    await session.flush()
    await record(
        session,
        org_id=agent.org_id,
        actor=Actor(agent.id, f"agent:{name}", ip, request_id),
        action="agent.enrolled",
        target_type="agent",
        target_id=agent.id,
        summary={
            "name": name,
            "hostname": hostname,
            "labels": agent.labels,
            "version": version,
            "enrolment_token_id": str(row.id),
        },
    )
    return agent, key

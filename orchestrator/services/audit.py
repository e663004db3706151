"""Append audit entries, each hash-chained to the previous entry of its chain (one chain per
organisation, plus "system"), list them, and verify a chain.

Each entry is sealed with HMAC-SHA-256 under the audit key, derived from the master key and
never stored in the database (`orchestrator.security.audit_keys`): whoever can write the
database but lacks the master key cannot edit, forge or renumber an entry and seal it again.
Entries written before the chain was keyed (migration 0011) keep their plain SHA-256; the
head's `keyed_from` is the switch point, and every entry from it on must be keyed.

Appending goes through the chain's head row (`audit_heads`): the UPDATE that advances the
head's sequence number is the first write, so on PostgreSQL its row lock and on SQLite the
database write lock serialise the writers of one chain until their transaction ends; the
entry is then inserted after the head's hash, and the head takes the new entry's hash. Two
concurrent requests can never take the same sequence number or fork the chain.

Verification recomputes every seal and link up to the head and compares the chain's end with
the head, so an edited, removed or forged row is found (the database also refuses UPDATE and
DELETE on `audit_log`, see migration 0005). What the database alone cannot show, a tail cut off
with the head moved back or a whole chain deleted, is found against the signed checkpoints kept
outside it (`services/audit_checkpoints.py`), and a chain of an organisation that exists must
hold entries.

An entry this server did not write, found where the next entry should go (`head + 1`), is
stepped over (the head moves past it, an error is logged) rather than failing the write, and
verification reports it as inserted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from orchestrator.db.base import new_id, utcnow
from orchestrator.logging import mask_value
from orchestrator.models.audit import AuditEntry, AuditHead
from orchestrator.schemas.pagination import capped_count
from orchestrator.security import audit_keys
from orchestrator.security.audit_keys import AuditKeys

log = logging.getLogger(__name__)

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"
MAX_PROBLEMS = 1000
_HASH_LOOKUPS = 20

_entries = cast(Table, AuditEntry.__table__)
_heads = cast(Table, AuditHead.__table__)


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, an agent, or the system."""

    id: uuid.UUID | None
    name: str
    ip: str | None = None
    request_id: str | None = None


def chain_of(org_id: uuid.UUID | None) -> str:
    return str(org_id) if org_id else SYSTEM_CHAIN


def _utc_naive(moment: datetime) -> datetime:
    # SQLite hands back naive UTC, PostgreSQL aware datetimes: hash one form of the same instant.
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


def _content(entry: AuditEntry | Row[Any] | SimpleNamespace, *, keyed: bool) -> bytes:
    content = {
        "chain": entry.chain,
        "seq": entry.seq,
        "org_id": str(entry.org_id) if entry.org_id else None,
        "actor_id": str(entry.actor_id) if entry.actor_id else None,
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "summary": entry.summary,
        "created_at": _utc_naive(entry.created_at).isoformat(timespec="microseconds"),
        "prev_hash": entry.prev_hash,
    }
    if keyed:
        content["key_id"] = entry.key_id
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def unkeyed_hash(entry: AuditEntry | Row[Any] | SimpleNamespace) -> str:
    """SHA-256 over the entry's content and the previous hash (canonical JSON): the seal of the
    entries written before the chain was keyed, and all that anyone without the key can compute."""
    return hashlib.sha256(_content(entry, keyed=False)).hexdigest()


def entry_hash(entry: AuditEntry | Row[Any] | SimpleNamespace, keys: AuditKeys | None = None) -> str | None:
    """The entry's seal: HMAC-SHA-256 under the audit key it names (`key_id`), or `unkeyed_hash`
    for an entry that names none; None when the key it names is not known here."""
    key_id = getattr(entry, "key_id", None)
    if key_id is None:
        return unkeyed_hash(entry)
    key = (keys or audit_keys.active()).get(key_id)
    return None if key is None else key.seal(_content(entry, keyed=True))


def insert_ignoring_conflict(session: AsyncSession, table: Any, values: dict[str, Any]) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING` in the session's dialect (no savepoint needed on a race)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(**values).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**values).on_conflict_do_nothing()


# Built once: every start batch and every audited request runs them.
_ADVANCE = (
    update(_heads)
    .where(_heads.c.chain == bindparam("_chain"))
    .values(seq=_heads.c.seq + bindparam("_count"))
    .returning(_heads.c.seq, _heads.c.hash)
)
_LAST_FROM = select(func.max(_entries.c.seq)).where(
    _entries.c.chain == bindparam("_chain"), _entries.c.seq >= bindparam("_first")
)
_SET_HASH = update(_heads).where(_heads.c.chain == bindparam("_chain")).values(hash=bindparam("_hash"))


async def _advance_head(session: AsyncSession, chain: str, count: int = 1) -> tuple[int, str]:
    """Take the chain's next `count` sequence numbers; returns (the first of them, hash of the
    entry before it)."""
    params = {"_chain": chain, "_count": count}
    row = (await session.execute(_ADVANCE, params)).first()
    if row is None:  # first entry of the chain; a concurrent first writer makes this a no-op
        await session.execute(
            insert_ignoring_conflict(session, _heads, {"chain": chain, "seq": 0, "hash": GENESIS, "keyed_from": 1})
        )
        row = (await session.execute(_ADVANCE, params)).one()
    first = int(row.seq) - count + 1
    # Entries nobody should have written may sit where ours go (a stray row at head + 1): step
    # over them instead of failing every audited action of the chain on the unique (chain, seq).
    stray = (await session.execute(_LAST_FROM, {"_chain": chain, "_first": first})).scalar()
    if stray is not None:
        log.error(
            "audit chain %s holds entries up to seq %d that this server did not write (its head was %d); "
            "they are stepped over and reported by verification",
            chain,
            stray,
            first - 1,
        )
        await session.execute(update(_heads).where(_heads.c.chain == chain).values(seq=stray + count))
        first = int(stray) + 1
    return first, str(row.hash)


def _normalise(summary: dict[str, Any] | None) -> dict[str, Any]:
    # What the JSON column gives back must hash like what was hashed; and any value the vault
    # knows as a secret is masked, in case a caller passed one by mistake.
    plain = json.loads(json.dumps(summary or {}, default=str))
    masked: dict[str, Any] = mask_value(plain)
    return masked


async def record(
    session: AsyncSession,
    *,
    org_id: uuid.UUID | None,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: str | uuid.UUID = "",
    summary: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the organisation's chain (or "system"). `summary` must hold no secret values."""
    [row] = await record_many(session, [Pending(org_id, actor, action, target_type, target_id, summary)])
    return AuditEntry(**row)


@dataclass(frozen=True)
class Pending:
    """An entry to append with `record_many` (the arguments of `record`)."""

    org_id: uuid.UUID | None
    actor: Actor
    action: str
    target_type: str = ""
    target_id: str | uuid.UUID = ""
    summary: dict[str, Any] | None = None


async def record_many(session: AsyncSession, entries: Sequence[Pending]) -> list[dict[str, Any]]:
    """Append entries in order, each chain's head advanced once for all of its entries (one
    INSERT for all); returns the stored rows' values."""
    key = audit_keys.active().current
    key_id = key.key_id
    chains: dict[str, list[Pending]] = {}
    for pending in entries:
        chains.setdefault(chain_of(pending.org_id), []).append(pending)
    rows: list[dict[str, Any]] = []
    for chain, pendings in chains.items():
        seq, prev = await _advance_head(session, chain, len(pendings))
        for offset, pending in enumerate(pendings):
            actor = pending.actor
            row = {
                "id": new_id(),
                "chain": chain,
                "seq": seq + offset,
                "org_id": pending.org_id,
                "actor_id": actor.id,
                "actor": actor.name[:320],
                "action": pending.action,
                "target_type": pending.target_type,
                "target_id": str(pending.target_id),
                "ip": actor.ip,
                "request_id": actor.request_id,
                "summary": _normalise(pending.summary),
                "created_at": utcnow(),
                "prev_hash": prev,
                "key_id": key_id,
            }
            row["hash"] = prev = key.seal(_content(SimpleNamespace(**row), keyed=True))
            rows.append(row)
        await session.execute(_SET_HASH, {"_chain": chain, "_hash": prev})
    if rows:
        await session.execute(_entries.insert(), rows)
    return rows


# --- listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    """Exact, or a prefix when it ends with `*` (`credential.*`)."""
    actor: str | None = None
    """The actor's name (e-mail) or id."""
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    """Case-insensitive substring of the action, actor, target type or target id."""

    def clauses(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.action:
            where.append(
                AuditEntry.action.startswith(self.action[:-1], autoescape=True)
                if self.action.endswith("*")
                else AuditEntry.action == self.action
            )
        if self.actor:
            try:
                where.append(AuditEntry.actor_id == uuid.UUID(self.actor))
            except ValueError:
                where.append(func.lower(AuditEntry.actor) == self.actor.lower())
        if self.target_type:
            where.append(AuditEntry.target_type == self.target_type)
        if self.target_id:
            where.append(AuditEntry.target_id == self.target_id)
        if self.since:
            where.append(AuditEntry.created_at >= self.since)
        if self.until:
            where.append(AuditEntry.created_at < self.until)
        if self.q:
            pattern = f"%{self.q.lower()}%"
            where.append(
                or_(
                    *(
                        func.lower(column).like(pattern)
                        for column in (
                            AuditEntry.action,
                            AuditEntry.actor,
                            AuditEntry.target_type,
                            AuditEntry.target_id,
                        )
                    )
                )
            )
        return where


async def list_entries(
    session: AsyncSession, org_id: uuid.UUID, filters: AuditFilter, *, limit: int, offset: int
) -> tuple[Sequence[AuditEntry], tuple[int, bool]]:
    """The organisation's entries matching `filters`, newest first, and how many match (with
    whether that count stopped at `COUNT_CAP`)."""
    where = [AuditEntry.chain == chain_of(org_id), *filters.clauses()]
    total = await capped_count(session, select(AuditEntry.id).where(*where))
    rows = await session.scalars(
        select(AuditEntry).where(*where).order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    )
    return rows.all(), total


async def get_entry(session: AsyncSession, org_id: uuid.UUID, entry_id: uuid.UUID) -> AuditEntry | None:
    return await session.scalar(
        select(AuditEntry).where(AuditEntry.id == entry_id, AuditEntry.chain == chain_of(org_id))
    )


# --- verification -----------------------------------------------------------------------------

ProblemKind = Literal["edited", "missing", "inserted", "reordered", "unverifiable", "checkpoint"]


@dataclass(frozen=True)
class Problem:
    seq: int
    problem: ProblemKind
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class Anchor:
    """What a signed checkpoint says of a chain (`services/audit_checkpoints.py`)."""

    seq: int
    hash: str
    keyed_from: int


@dataclass
class Verification:
    chain: str
    checked: int = 0
    head_seq: int = 0
    problems: list[Problem] = field(default_factory=list)
    truncated: bool = False
    keyed_from: int = 1
    unkeyed: int = 0
    """Entries below the switch point, sealed with plain SHA-256 before the chain was keyed."""
    checkpoint_seq: int | None = None
    """The last signed checkpoint's sequence number: the chain must reach it with that hash."""

    @property
    def ok(self) -> bool:
        return not self.problems and not self.truncated

    def add(self, seq: int, problem: ProblemKind, entry_id: uuid.UUID | None) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(Problem(seq, problem, entry_id))

    def missing(self, first: int, last: int) -> None:
        for seq in range(first, min(last, first + MAX_PROBLEMS) + 1):
            self.add(seq, "missing", None)


@dataclass
class _Link:
    seq: int
    id: uuid.UUID
    hash: str
    flagged: bool
    before: str = GENESIS
    """The hash this entry's predecessor has (what an entry stepping over this one links to)."""
    problem: int | None = None
    """Where this entry's problem is in the list."""


async def _head(session: AsyncSession, chain: str) -> tuple[int, str, int] | None:
    row = (
        await session.execute(select(_heads.c.seq, _heads.c.hash, _heads.c.keyed_from).where(_heads.c.chain == chain))
    ).first()
    if row is None:
        return None
    return int(row.seq), str(row.hash), int(row.keyed_from) if row.keyed_from is not None else 1


def _seal_problem(row: Row[Any], keyed_from: int, keys: AuditKeys) -> ProblemKind | None:
    """Why `row` does not carry its own seal, if it does not."""
    if row.key_id is None and row.seq >= keyed_from:
        return "edited"  # unkeyed after the switch point: written by someone without the key
    expected = entry_hash(row, keys)
    if expected is None:
        return "unverifiable"
    return None if hmac.compare_digest(expected, row.hash) else "edited"


async def verify_chain(  # noqa: C901
    session: AsyncSession,
    chain: str,
    *,
    batch: int = 1000,
    anchor: Anchor | None = None,
    expect_entries: bool = False,
    keys: AuditKeys | None = None,
) -> Verification:
    """Check every entry of `chain` up to its head, then look for entries beyond it.

    - edited: the entry's content no longer matches its seal (or it is unkeyed after the chain's
      switch point), or its hash no longer matches what the next entry (or the head) sealed;
    - missing: a sequence number up to the head, or up to the last checkpoint, has no entry
      (`id` is then unknown); an organisation's chain without a head and without entries
      (`expect_entries`) misses entry 1;
    - inserted: an entry outside the head's range (beyond it, or numbered below 1), or one the
      next entry steps over (written where this server's next entry went);
    - reordered: an intact entry whose link names another entry of the chain than its predecessor;
    - unverifiable: sealed with an audit key this server does not know (a retired master key);
    - checkpoint: the entry at the checkpoint's sequence number, or the switch point, differs
      from what the signed checkpoint `anchor` recorded.

    Entries appended while this runs are neither checked nor reported.
    """
    keys = keys or audit_keys.active()
    result = Verification(chain)
    head = await _head(session, chain)
    head_seq, head_hash, keyed_from = head or (0, GENESIS, 1)
    result.head_seq, result.keyed_from = head_seq, keyed_from
    if anchor is not None:
        result.checkpoint_seq = anchor.seq
        if anchor.keyed_from != keyed_from:
            result.add(min(anchor.keyed_from, keyed_from), "checkpoint", None)
    expected_seq, expected_prev = 1, GENESIS
    prev: _Link | None = None
    lookups = 0
    after: int | None = None
    while True:
        query = select(_entries).where(_entries.c.chain == chain, _entries.c.seq <= head_seq)
        if after is not None:
            query = query.where(_entries.c.seq > after)
        rows = (await session.execute(query.order_by(_entries.c.seq).limit(batch))).all()
        if not rows:
            break
        after = rows[-1].seq
        for row in rows:
            result.checked += 1
            if row.seq < expected_seq:
                result.add(row.seq, "inserted", row.id)
                continue
            linked = row.seq == expected_seq
            result.missing(expected_seq, row.seq - 1)
            if row.key_id is None and row.seq < keyed_from:
                result.unkeyed += 1
            current = _Link(row.seq, row.id, row.hash, flagged=False, before=expected_prev)
            if anchor is not None and row.seq == anchor.seq and row.hash != anchor.hash:
                result.add(row.seq, "checkpoint", row.id)
            problem = _seal_problem(row, keyed_from, keys)
            if problem is not None:
                current.flagged, current.problem = True, len(result.problems)
                result.add(row.seq, problem, row.id)
            elif (
                linked
                and prev is not None
                and prev.flagged
                and prev.problem is not None
                and row.prev_hash == prev.before
                and row.prev_hash != expected_prev
            ):
                # This entry steps over the one before it, which is not sealed: an entry someone
                # put where this server's next one went (this server wrote around it).
                result.problems[prev.problem] = Problem(prev.seq, "inserted", prev.id)
            elif linked and row.prev_hash != expected_prev:
                # This entry is intact but does not follow the one before it: either it points at
                # another entry (moved), or its predecessor changed and was re-sealed afterwards.
                other = None
                if lookups < _HASH_LOOKUPS and row.prev_hash != GENESIS:
                    lookups += 1
                    other = (
                        await session.execute(
                            select(_entries.c.seq)
                            .where(_entries.c.chain == chain, _entries.c.hash == row.prev_hash)
                            .limit(1)
                        )
                    ).first()
                if other is not None and (prev is None or other.seq != prev.seq):
                    result.add(row.seq, "reordered", row.id)
                    current.flagged = True
                elif prev is not None and not prev.flagged:
                    result.add(prev.seq, "edited", prev.id)
                elif prev is None:
                    result.add(row.seq, "edited", row.id)
                    current.flagged = True
            expected_seq, expected_prev, prev = row.seq + 1, row.hash, current
    if expected_seq <= head_seq:
        result.missing(expected_seq, head_seq)
    elif prev is not None and prev.seq == head_seq and prev.hash != head_hash and not prev.flagged:
        result.add(prev.seq, "edited", prev.id)
    if anchor is not None and anchor.seq > head_seq:
        result.missing(head_seq + 1, anchor.seq)  # the tail was cut off and the head moved back
    if expect_entries and head is None and result.checked == 0 and not result.problems:
        result.add(1, "missing", None)  # an organisation's chain starts with its creation
    beyond = (
        await session.execute(
            select(_entries.c.seq, _entries.c.id)
            .where(_entries.c.chain == chain, _entries.c.seq > head_seq)
            .order_by(_entries.c.seq)
            .limit(MAX_PROBLEMS + 1)
        )
    ).all()
    if beyond:
        # Read the head again: entries committed since the first read are below it now.
        head_now = (await _head(session, chain) or (0, GENESIS, 1))[0]
        for row in beyond:
            if row.seq > head_now:
                result.add(row.seq, "inserted", row.id)
    return result

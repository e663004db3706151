"""Failed-login counting and lockouts, scoped so that no organisation can bar another's door.

Two scopes count every failed login (a wrong password, an unknown address, a wrong second factor):
- `org:<slug>`, the organisation the login is for, under that organisation's policy
  (`lockout_threshold`, `lockout_minutes`): it bars logins to that organisation only;
- `src:<client address>`, the instance's own limit per account and source
  (`settings.login_lockout_threshold` / `_minutes`), which no organisation can change.

Rows are keyed by the e-mail address as typed (normalised), never by a user: an address nobody
holds counts and locks exactly like one that exists, so the answers tell an unknown caller
nothing about which addresses have accounts. A success clears both of its scopes; an expired
lockout starts a fresh count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.models import LoginLockout

STALE = timedelta(days=1)
"""Rows of an address untouched this long with no lockout in force are deleted at its next failure:
a stream of invented addresses cannot grow the table beyond what the per-source rate limit lets in."""


@dataclass(frozen=True)
class Scope:
    """One counter: its key and the rule that locks it."""

    key: str
    threshold: int
    minutes: int


def org_scope(slug: str | None, threshold: int, minutes: int) -> Scope:
    """The scope of the organisation a login is for (`slug` None: no organisation could be named)."""
    return Scope(f"org:{(slug or '').strip().lower()[:100]}", threshold, minutes)


def source_scope(ip: str | None, threshold: int, minutes: int) -> Scope:
    return Scope(f"src:{ip or 'unknown'}", threshold, minutes)


async def locked_until(session: AsyncSession, email: str, scopes: list[Scope]) -> datetime | None:
    """The latest lockout in force for `email` in any of `scopes`, or None."""
    now = utcnow()
    until = await session.scalar(
        select(LoginLockout.locked_until)
        .where(
            LoginLockout.email == email,
            LoginLockout.scope.in_([s.key for s in scopes]),
            LoginLockout.locked_until > now,
        )
        .order_by(LoginLockout.locked_until.desc())
        .limit(1)
    )
    return until


async def count_failure(session: AsyncSession, email: str, scopes: list[Scope]) -> None:
    """One more failure in every scope; a scope that reaches its threshold locks."""
    now = utcnow()
    await session.execute(
        delete(LoginLockout).where(
            LoginLockout.email == email,
            LoginLockout.updated_at < now - STALE,
            or_(LoginLockout.locked_until.is_(None), LoginLockout.locked_until < now),
        )
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for scope in scopes:
        # An upsert: concurrent failures must each count, and must not race on the unique key.
        stmt = insert(LoginLockout).values(email=email, scope=scope.key, failures=1, updated_at=now)
        row = (
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[LoginLockout.email, LoginLockout.scope],
                    set_={"failures": LoginLockout.failures + 1, "updated_at": now},
                ).returning(LoginLockout.id, LoginLockout.failures, LoginLockout.locked_until)
            )
        ).one()
        failures, until = row.failures, row.locked_until
        if until is not None and until <= now:  # the lockout ran out: this failure starts a fresh count
            failures, until = 1, None
        if failures >= scope.threshold:
            failures, until = 0, now + timedelta(minutes=scope.minutes)
        await session.execute(
            update(LoginLockout)
            .where(LoginLockout.id == row.id)
            .values(failures=failures, locked_until=until)
            .execution_options(synchronize_session=False)
        )


async def clear(session: AsyncSession, email: str, scopes: list[Scope]) -> None:
    """A successful login: the counts of its scopes start again."""
    await session.execute(
        delete(LoginLockout).where(LoginLockout.email == email, LoginLockout.scope.in_([s.key for s in scopes]))
    )


async def org_lockouts(session: AsyncSession, slug: str, emails: list[str]) -> dict[str, datetime]:
    """The lockouts in force in one organisation's scope, by e-mail (for its member list)."""
    if not emails:
        return {}
    rows = await session.execute(
        select(LoginLockout.email, LoginLockout.locked_until).where(
            LoginLockout.scope == org_scope(slug, 1, 1).key,
            LoginLockout.email.in_(emails),
            LoginLockout.locked_until > utcnow(),
        )
    )
    return {email: until for email, until in rows.all() if until is not None}

"""Logins, refresh-token rotation, sessions, organisation switching and password changes.

Invariants:
- A wrong e-mail and a wrong password get the same answer (`invalid_credentials`) after the same
  work (one argon2 verification); anything more specific is said only after the password matched.
- Failures are counted per e-mail address as typed, in two scopes (`services/lockouts.py`): the
  organisation the login is for, under its policy, which bars that organisation only; and the
  instance's limit per account and source. An unknown address counts and locks like a known one,
  and a lockout is checked before the password, for both alike: `locked` says nothing about
  whether the address has an account, nor whether the password was right. A login naming an
  organisation the address does not belong to fails (and counts) like a wrong password.
- A refresh token is used once. Presenting a used one revokes its whole session
  (`refresh_reuse`): either the holder or a thief has a copy, and the server cannot tell which.
- Refusals that change state (counter, lockout, revocation, audit entry) raise `AuthRefusal`,
  which the route's session dependency commits before the error is sent.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import ApiError, Forbidden, Invalid, NotFound
from orchestrator.models import AuthSession, Membership, Organisation, PasswordHistory, RefreshToken, User
from orchestrator.schemas.identity import SessionPublic
from orchestrator.security.passwords import hash_password, needs_rehash, verify_password
from orchestrator.security.principal import Principal, ip_allowed
from orchestrator.security.tokens import issue_access_token, new_opaque_token, token_hash
from orchestrator.services import lockouts, mfa
from orchestrator.services.audit import Actor, record
from orchestrator.services.identity import TokenPair, member_in_reach, revoke, revoke_sessions, start_session
from orchestrator.services.policy import PasswordPolicy

INVALID_CREDENTIALS = "the e-mail or the password is wrong"
HISTORY_KEPT = 24
"""Password hashes kept per user: the largest `history` a policy may ask for."""


class AuthRefusal(ApiError):
    """A refusal whose bookkeeping must be kept although the request fails."""

    status = 401
    code = "unauthorized"


@dataclass(frozen=True)
class TokenConfig:
    signing_key: str
    master_key: str
    access_ttl_s: int
    refresh_ttl_s: int


@dataclass(frozen=True)
class LockoutConfig:
    """The instance's own limit per account and source (settings `login_lockout_*`)."""

    threshold: int = 10
    minutes: int = 15


@dataclass(frozen=True)
class Client:
    """Where a request comes from."""

    ip: str | None
    user_agent: str | None
    request_id: str | None

    def actor(self, user_id: uuid.UUID | None, name: str) -> Actor:
        return Actor(user_id, name, self.ip, self.request_id)


@dataclass(frozen=True)
class LoginResult:
    tokens: TokenPair
    password_expired: bool


async def check_password(password_hash: str | None, password: str) -> bool:
    # argon2 takes ~100 ms of CPU: off the event loop, so other requests keep being served.
    return await asyncio.to_thread(verify_password, password_hash, password)


async def _membership(
    session: AsyncSession, user_id: uuid.UUID, org_slug: str | None
) -> tuple[Organisation, Membership] | None:
    """The organisation asked for (by slug), or the user's first one."""
    query = (
        select(Organisation, Membership)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(Membership.user_id == user_id, Organisation.deleted_at.is_(None))
    )
    if org_slug:
        query = query.where(Organisation.slug == org_slug.strip().lower())
    # Default: the first organisation where the membership is still active.
    order = (Membership.is_active.desc(), Membership.created_at, Membership.id)
    row = (await session.execute(query.order_by(*order).limit(1))).first()
    return (row[0], row[1]) if row else None


async def _fail(
    session: AsyncSession, *, org_id: uuid.UUID | None, actor: Actor, email: str, reason: str, refusal: AuthRefusal
) -> AuthRefusal:
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="auth.login_failed",
        target_type="user",
        target_id=actor.id or "",
        summary={"email": email, "reason": reason},
    )
    return refusal


def _locked(until: datetime) -> AuthRefusal:
    wait = max(1, int((until - utcnow()).total_seconds()))
    return AuthRefusal(
        f"too many failed logins: try again after {until.isoformat()}",
        status=403,
        code="locked",
        details={"locked_until": until.isoformat(), "retry_after_s": wait},
        headers={"Retry-After": str(wait)},
    )


async def _scopes(
    session: AsyncSession,
    *,
    org_slug: str | None,
    found: tuple[Organisation, Membership] | None,
    client: Client,
    lockout: LockoutConfig,
) -> tuple[list[lockouts.Scope], PasswordPolicy]:
    """The counters a login attempt touches, and the policy of the organisation it is for.

    The organisation is the one named, whether or not the address belongs to it (or exists): its
    policy applies the same to every address. With none named it is the user's first one; for an
    address without one, the instance's default policy under an unnamed scope.
    """
    named = (
        (
            await session.scalar(
                select(Organisation).where(
                    Organisation.slug == org_slug.strip().lower(), Organisation.deleted_at.is_(None)
                )
            )
        )
        if org_slug
        else None
    )
    target = named if org_slug else (found[0] if found else None)
    policy = PasswordPolicy.from_stored(target.password_policy if target else None)
    slug = org_slug if org_slug else (target.slug if target else None)
    scopes = [
        lockouts.org_scope(slug, policy.lockout_threshold, policy.lockout_minutes),
        lockouts.source_scope(client.ip, lockout.threshold, lockout.minutes),
    ]
    return scopes, policy


async def login(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    org_slug: str | None,
    totp_code: str | None,
    recovery_code: str | None,
    config: TokenConfig,
    client: Client,
    lockout: LockoutConfig | None = None,
) -> LoginResult:
    """Check the lockouts, the credentials (and second factor), then open a session."""
    email = email.strip().lower()
    user = await session.scalar(select(User).where(User.email == email, User.deleted_at.is_(None)))
    found = await _membership(session, user.id, org_slug) if user else None
    fallback = found or (await _membership(session, user.id, None) if user else None)
    scopes, policy = await _scopes(
        session, org_slug=org_slug, found=fallback, client=client, lockout=lockout or LockoutConfig()
    )
    actor = client.actor(user.id if user else None, user.email if user else email)
    audit_org = fallback[0].id if fallback else None
    until = await lockouts.locked_until(session, email, scopes)
    if until is not None:
        # Before any password check, for known and unknown addresses alike: no answer to tell them apart.
        raise await _fail(session, org_id=audit_org, actor=actor, email=email, reason="locked", refusal=_locked(until))
    password_ok = await check_password(user.password_hash if user else None, password)
    if user is None or not password_ok or found is None:
        # A login to an organisation the address does not belong to fails like a wrong password, and
        # counts: otherwise naming a lenient organisation would test passwords outside the lockout
        # of the user's own.
        await lockouts.count_failure(session, email, scopes)
        reason = "unknown_email" if user is None else "wrong_password" if not password_ok else "not_a_member"
        raise await _fail(
            session,
            org_id=audit_org,
            actor=actor,
            email=email,
            reason=reason,
            refusal=AuthRefusal(INVALID_CREDENTIALS, code="invalid_credentials"),
        )
    # The password matched, in an organisation of the user's: the answers may be specific now.
    org, membership = found
    if not user.is_active or not membership.is_active:
        raise await _fail(
            session,
            org_id=org.id,
            actor=actor,
            email=email,
            reason="disabled",
            refusal=AuthRefusal("the account is disabled in this organisation", status=403, code="account_disabled"),
        )
    if not ip_allowed(client.ip or "", org.ip_allowlist or []):
        raise await _fail(
            session,
            org_id=org.id,
            actor=actor,
            email=email,
            reason="ip_not_allowed",
            refusal=AuthRefusal(
                f"logins from {client.ip} are not allowed by the organisation's IP allowlist",
                status=403,
                code="ip_not_allowed",
            ),
        )
    method: str | None = "password"
    if user.totp_enabled:
        if not totp_code and not recovery_code:
            raise AuthRefusal("a second factor is required: send totp_code (or recovery_code)", code="mfa_required")
        method = await mfa.second_factor(
            session, user, totp_code=totp_code, recovery_code=recovery_code, master_key=config.master_key
        )
        if method is None:
            await lockouts.count_failure(session, email, scopes)
            raise await _fail(
                session,
                org_id=org.id,
                actor=actor,
                email=email,
                reason="wrong_second_factor",
                refusal=AuthRefusal("the TOTP or recovery code is wrong or was already used", code="invalid_mfa_code"),
            )
    await lockouts.clear(session, email, scopes)
    if needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, password)
    tokens = await open_session(session, user=user, org=org, config=config, client=client)
    await record(
        session,
        org_id=org.id,
        actor=actor,
        action="auth.login",
        target_type="session",
        target_id=tokens.session_id,
        summary={"email": email, "method": method},
    )
    return LoginResult(tokens, policy.expired(user.password_changed_at))


async def open_session(
    session: AsyncSession, *, user: User, org: Organisation, config: TokenConfig, client: Client
) -> TokenPair:
    """A new session, after making room for it under the organisation's per-user limit."""
    if org.max_sessions_per_user:
        live = (
            await session.scalars(
                select(AuthSession)
                .where(
                    AuthSession.user_id == user.id,
                    AuthSession.org_id == org.id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > utcnow(),
                )
                .order_by(AuthSession.created_at, AuthSession.id)
            )
        ).all()
        for old in live[: max(0, len(live) - org.max_sessions_per_user + 1)]:
            revoke(old, "session_limit")
    return await start_session(
        session,
        user=user,
        org_id=org.id,
        signing_key=config.signing_key,
        access_ttl_s=config.access_ttl_s,
        refresh_ttl_s=config.refresh_ttl_s,
        ip=client.ip,
        user_agent=client.user_agent,
    )


async def refresh(session: AsyncSession, *, refresh_token: str, config: TokenConfig, client: Client) -> LoginResult:
    """Rotate: the presented token is spent and a new pair is issued for the same session."""
    row = (
        await session.execute(
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == token_hash(refresh_token.strip()))
        )
    ).first()
    if row is None:
        raise AuthRefusal("the refresh token is not valid", code="invalid_refresh_token")
    token, auth = row
    if auth.revoked_at is not None:
        raise AuthRefusal("the session was revoked; log in again", code="session_revoked")
    if auth.expires_at <= utcnow():
        raise AuthRefusal("the session has expired; log in again", code="session_expired")
    spent = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token.id, RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    user = await session.get_one(User, auth.user_id)
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        revoke(auth, "refresh_reuse")
        await record(
            session,
            org_id=auth.org_id,
            actor=client.actor(user.id, user.email),
            action="auth.refresh_reuse",
            target_type="session",
            target_id=auth.id,
            summary={"email": user.email},
        )
        raise AuthRefusal("this refresh token was already used; the session has been revoked", code="refresh_reuse")
    membership = (
        await session.execute(
            select(Organisation, Membership)
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.user_id == user.id, Organisation.id == auth.org_id)
        )
    ).first()
    if (
        membership is None
        or not membership[1].is_active
        or not user.is_active
        or user.deleted_at
        or membership[0].deleted_at
    ):
        raise AuthRefusal("the account is disabled in this organisation", code="account_disabled")
    org: Organisation = membership[0]
    if not ip_allowed(client.ip or "", org.ip_allowlist or []):
        raise Forbidden(
            f"requests from {client.ip} are not allowed by the organisation's IP allowlist", code="ip_not_allowed"
        )
    now = utcnow()
    auth.last_used_at = now
    auth.expires_at = now + timedelta(seconds=config.refresh_ttl_s)
    new_refresh = new_opaque_token("rt")
    session.add(RefreshToken(session_id=auth.id, token_hash=token_hash(new_refresh)))
    access, expires = issue_access_token(
        config.signing_key, user_id=user.id, org_id=org.id, session_id=auth.id, ttl_s=config.access_ttl_s
    )
    await session.flush()
    expired = PasswordPolicy.from_stored(org.password_policy).expired(user.password_changed_at)
    return LoginResult(TokenPair(access, new_refresh, expires, auth.id, org.id), expired)


async def switch(
    session: AsyncSession, *, principal: Principal, org_slug: str, config: TokenConfig, client: Client
) -> LoginResult:
    """A new session for the caller in another of their organisations (the current one stays)."""
    found = await _membership(session, principal.user_id, org_slug)
    if found is None or not found[1].is_active:
        raise NotFound(f"you are not a member of an organisation with slug '{org_slug}'")
    org, _membership_row = found
    if not ip_allowed(client.ip or "", org.ip_allowlist or []):
        raise Forbidden(
            f"requests from {client.ip} are not allowed by that organisation's IP allowlist", code="ip_not_allowed"
        )
    user = await session.get_one(User, principal.user_id)
    tokens = await open_session(session, user=user, org=org, config=config, client=client)
    await record(
        session,
        org_id=org.id,
        actor=client.actor(user.id, user.email),
        action="auth.switch",
        target_type="session",
        target_id=tokens.session_id,
        summary={"from_org": str(principal.org_id)},
    )
    expired = PasswordPolicy.from_stored(org.password_policy).expired(user.password_changed_at)
    return LoginResult(tokens, expired)


async def logout(session: AsyncSession, *, principal: Principal, actor: Actor) -> None:
    auth = await session.get_one(AuthSession, principal.session_id)
    revoke(auth, "logout")
    await record(
        session, org_id=principal.org_id, actor=actor, action="auth.logout", target_type="session", target_id=auth.id
    )


def session_public(auth: AuthSession, current: uuid.UUID | None = None) -> SessionPublic:
    return SessionPublic(
        id=auth.id,
        user_id=auth.user_id,
        created_at=auth.created_at,
        last_used_at=auth.last_used_at,
        expires_at=auth.expires_at,
        revoked_at=auth.revoked_at,
        revoke_reason=auth.revoke_reason,
        ip=auth.ip,
        user_agent=auth.user_agent,
        current=auth.id == current,
    )


async def list_sessions(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    limit: int,
    offset: int,
    include_revoked: bool = False,
    current: uuid.UUID | None = None,
) -> tuple[list[SessionPublic], int]:
    """A user's sessions in one organisation, newest first (live ones only unless asked)."""
    where = [AuthSession.org_id == org_id, AuthSession.user_id == user_id]
    if not include_revoked:
        where += [AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow()]
    total = await session.scalar(select(func.count()).select_from(AuthSession).where(*where)) or 0
    rows = (
        await session.scalars(
            select(AuthSession)
            .where(*where)
            .order_by(AuthSession.created_at.desc(), AuthSession.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [session_public(r, current) for r in rows], total


async def revoke_own_session(
    session: AsyncSession, *, principal: Principal, session_id: uuid.UUID, actor: Actor
) -> None:
    auth = await session.scalar(
        select(AuthSession).where(
            AuthSession.id == session_id,
            AuthSession.user_id == principal.user_id,
            AuthSession.org_id == principal.org_id,
        )
    )
    if auth is None:
        raise NotFound(f"no session {session_id} of yours in this organisation")
    revoke(auth, "user_revoked")
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="session.revoke",
        target_type="session",
        target_id=auth.id,
        summary={"user_id": str(principal.user_id)},
    )


async def change_password(
    session: AsyncSession, *, principal: Principal, current_password: str, new_password: str, actor: Actor
) -> None:
    """Check the current password, the policy and the history; then sign out every other session."""
    user = await session.get_one(User, principal.user_id)
    org = await session.get_one(Organisation, principal.org_id)
    if not await check_password(user.password_hash, current_password):
        raise Forbidden(
            "the current password is wrong",
            code="wrong_password",
            details=[{"location": "body:current_password", "message": "does not match"}],
        )
    policy = PasswordPolicy.from_stored(org.password_policy)
    problems = policy.problems(new_password, email=user.email, context=[user.name, org.name, org.slug])
    if problems:
        raise Invalid(
            "body:new_password: the password " + "; ".join(problems),
            code="weak_password",
            details=[{"location": "body:new_password", "message": p} for p in problems],
        )
    if policy.history:
        earlier = (
            await session.scalars(
                select(PasswordHistory.password_hash)
                .where(PasswordHistory.user_id == user.id)
                .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id)
                .limit(policy.history)
            )
        ).all()
        for old_hash in {user.password_hash, *earlier}:
            if await check_password(old_hash, new_password):
                raise Invalid(
                    f"body:new_password: the password was used before (the last {policy.history} may not be reused)",
                    code="password_reused",
                    details=[{"location": "body:new_password", "message": "was used before"}],
                )
    user.password_hash = await asyncio.to_thread(hash_password, new_password)
    user.password_changed_at = utcnow()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
    await session.flush()
    keep = (
        await session.scalars(
            select(PasswordHistory.id)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id)
            .limit(HISTORY_KEPT)
        )
    ).all()
    await session.execute(
        delete(PasswordHistory).where(PasswordHistory.user_id == user.id, PasswordHistory.id.not_in(keep))
    )
    revoked = await revoke_sessions(
        session, org_id=None, user_id=user.id, reason="password_change", keep=principal.session_id
    )
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="user.password_change",
        target_type="user",
        target_id=user.id,
        summary={"other_sessions_revoked": revoked},
    )


async def force_logout(session: AsyncSession, *, principal: Principal, user_id: uuid.UUID, actor: Actor) -> int:
    """Revoke every live session of a member in the caller's organisation (another tenant's user: 404;
    a member who holds more than the caller: 403)."""
    await member_in_reach(session, principal=principal, user_id=user_id)
    count = await revoke_sessions(session, org_id=principal.org_id, user_id=user_id, reason="admin_revoked")
    await record(
        session,
        org_id=principal.org_id,
        actor=actor,
        action="session.revoke_all",
        target_type="user",
        target_id=user_id,
        summary={"sessions_revoked": count},
    )
    return count

"""TOTP enrolment, confirmation, verification and recovery codes for a user.

Enrolment stores a new secret (encrypted) with `totp_enabled` still false; confirming it with a
valid code enables it and issues ten single-use recovery codes. Every accepted TOTP code
advances `User.totp_last_step` in one conditional UPDATE, so the same code (or an older one) is
refused even when two requests race; a recovery code is spent the same way.
"""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from orchestrator.db.base import utcnow
from orchestrator.errors import Conflict, Forbidden, Invalid
from orchestrator.models import RecoveryCode, User
from orchestrator.security import totp
from orchestrator.security.passwords import verify_password
from orchestrator.services.audit import Actor, record


async def consume_totp(session: AsyncSession, user: User, code: str, master_key: str) -> bool:
    """True when `code` is valid and newer than the last accepted one (which it then becomes)."""
    if user.totp_secret is None:
        return False
    secret = totp.decrypt_secret(master_key, user.totp_secret, user.id)
    step = totp.match_step(secret, code, after=user.totp_last_step)
    if step is None:
        return False
    claimed = await session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False  # a concurrent request accepted this step (or a later one) first
    user.totp_last_step = step
    return True


async def consume_recovery_code(session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    rows = (
        await session.execute(
            select(RecoveryCode.id, RecoveryCode.code_hash).where(
                RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
            )
        )
    ).all()
    for code_id, code_hash in rows:
        if await asyncio.to_thread(totp.recovery_code_matches, code_hash, code):
            spent = await session.execute(
                update(RecoveryCode)
                .where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return spent.rowcount == 1  # type: ignore[attr-defined,no-any-return]
    return False


async def second_factor(
    session: AsyncSession, user: User, *, totp_code: str | None, recovery_code: str | None, master_key: str
) -> str | None:
    """The method that passed ("totp" or "recovery_code"), or None."""
    if totp_code and await consume_totp(session, user, totp_code, master_key):
        return "totp"
    if recovery_code and await consume_recovery_code(session, user.id, recovery_code):
        return "recovery_code"
    return None


async def start_enrolment(
    session: AsyncSession, *, user_id: uuid.UUID, master_key: str, actor: Actor, org_id: uuid.UUID
) -> tuple[str, str]:
    """(secret, provisioning URI) for a new, not yet enabled TOTP secret."""
    user = await session.get_one(User, user_id)
    if user.totp_enabled:
        raise Conflict("TOTP is already enabled; disable it before enrolling again", code="mfa_enabled")
    secret = totp.new_secret()
    user.totp_secret = totp.encrypt_secret(master_key, secret, user.id)
    user.totp_last_step = None
    await record(session, org_id=org_id, actor=actor, action="user.mfa_enrol", target_type="user", target_id=user.id)
    return secret, totp.provisioning_uri(secret, user.email)


async def confirm_enrolment(
    session: AsyncSession, *, user_id: uuid.UUID, code: str, master_key: str, actor: Actor, org_id: uuid.UUID
) -> list[str]:
    """Enable TOTP once a code from the new secret checks out; returns the recovery codes (once)."""
    user = await session.get_one(User, user_id)
    if user.totp_enabled:
        raise Conflict("TOTP is already enabled", code="mfa_enabled")
    if user.totp_secret is None:
        raise Conflict(
            "no TOTP enrolment is in progress; start one with POST /api/v1/auth/mfa/totp", code="no_enrolment"
        )
    if not await consume_totp(session, user, code, master_key):
        raise Invalid(
            "body:code: the code does not match the new secret (check the device's clock)",
            code="invalid_mfa_code",
            details=[{"location": "body:code", "message": "does not match"}],
        )
    user.totp_enabled = True
    codes = totp.new_recovery_codes()
    hashes = await asyncio.to_thread(lambda: [totp.hash_recovery_code(c) for c in codes])
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.add_all(RecoveryCode(user_id=user.id, code_hash=h) for h in hashes)
    await session.flush()
    await record(
        session,
        org_id=org_id,
        actor=actor,
        action="user.mfa_enable",
        target_type="user",
        target_id=user.id,
        summary={"recovery_codes": len(codes)},
    )
    return codes


async def disable(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    password: str | None,
    code: str | None,
    master_key: str,
    actor: Actor,
    org_id: uuid.UUID,
) -> None:
    """Turn TOTP off after proof of the password or a current code; recovery codes go too."""
    user = await session.get_one(User, user_id)
    if user.totp_secret is None and not user.totp_enabled:
        raise Conflict("TOTP is not enabled", code="mfa_not_enabled")
    if not password and not code:
        raise Invalid(
            "body: send the account's password or a current TOTP code",
            details=[{"location": "body", "message": "password or code is required"}],
        )
    proved = bool(password) and await asyncio.to_thread(verify_password, user.password_hash, password or "")
    if not proved and code:
        proved = await consume_totp(session, user, code, master_key)
    if not proved:
        raise Forbidden("the password or the code is wrong", code="wrong_password")
    user.totp_enabled, user.totp_secret, user.totp_last_step = False, None, None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    await record(session, org_id=org_id, actor=actor, action="user.mfa_disable", target_type="user", target_id=user.id)

"""Helpers for the identity and access tests: log in over HTTP, read and poke rows directly."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select, update

from orchestrator.models import AuditEntry, LoginLockout, User
from orchestrator.security import passwords
from tests.orchestrator.conftest import PASSWORD

API = "/api/v1"
NEW_PASSWORD = "Brand-New-Secret-77-words"


@pytest.fixture
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with test-sized parameters: these tests are about the rules around passwords, and
    the production cost (~0.1-0.4 s per hash on a 2-core machine) would make them slow.

    The whole session already hashes at this cost (`tests/conftest.py`); the fixture stays so that
    a test that needs it says so, and works in a session set up otherwise."""
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("not a real password"))


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password, **extra})


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


async def audit_actions(app: FastAPI, org_id: uuid.UUID | None = None) -> list[AuditEntry]:
    async with app.state.db.transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)
        if org_id is not None:
            query = query.where(AuditEntry.org_id == org_id)
        return list((await session.scalars(query)).all())


async def set_user(app: FastAPI, user_id: uuid.UUID, **values: Any) -> None:
    async with app.state.db.transaction() as session:
        await session.execute(update(User).where(User.id == user_id).values(**values))


async def get_user(app: FastAPI, user_id: uuid.UUID) -> User:
    async with app.state.db.transaction() as session:
        return await session.get_one(User, user_id)


async def patch_org(client: httpx.AsyncClient, headers: dict[str, str], **changes: Any) -> httpx.Response:
    response = await client.patch(f"{API}/orgs/current", json=changes, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def make_instance_admin(app: FastAPI, user_id: uuid.UUID) -> None:
    """What `rpa admin create` makes its owner: may create organisations and accounts."""
    await set_user(app, user_id, is_instance_admin=True)


async def lockout_rows(app: FastAPI, email: str) -> dict[str, LoginLockout]:
    """The failed-login counters of one address, by scope (`org:<slug>`, `src:<address>`)."""
    async with app.state.db.transaction() as session:
        rows = (await session.scalars(select(LoginLockout).where(LoginLockout.email == email))).all()
        return {row.scope: row for row in rows}


async def join_by_invitation(
    client: httpx.AsyncClient, inviter: dict[str, str], invitee: dict[str, str], email: str, role: str
) -> httpx.Response:
    """Invite `email` from the organisation of `inviter` and accept as `invitee` (their headers)."""
    sent = await client.post(f"{API}/invitations", headers=inviter, json={"email": email, "role": role})
    assert sent.status_code == 201, sent.text
    return await client.post(f"{API}/auth/invitations/{sent.json()['id']}/accept", headers=invitee)

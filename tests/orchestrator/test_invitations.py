"""Invitations: only the addressee answers, once, before it expires; the organisation sees its own."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from orchestrator.db.base import utcnow
from orchestrator.models import Invitation
from tests.orchestrator._identity_helpers import (
    API,
    audit_actions,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    login,
)

pytestmark = pytest.mark.usefixtures("fast_hashing")


async def _invite(client: httpx.AsyncClient, headers: dict[str, str], email: str, role: str = "viewer") -> str:
    sent = await client.post(f"{API}/invitations", headers=headers, json={"email": email, "role": role})
    assert sent.status_code == 201, sent.text
    invitation_id: str = sent.json()["id"]
    return invitation_id


async def test_accepting_makes_a_member_with_the_role(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner, invitee = await tenant(), await tenant()
    invitation = await _invite(client, owner.headers, invitee.email.upper(), role="operator")
    again = await client.post(
        f"{API}/invitations", headers=owner.headers, json={"email": invitee.email, "role": "viewer"}
    )
    assert error_code(again) == "already_invited"
    accepted = await client.post(f"{API}/auth/invitations/{invitation}/accept", headers=invitee.headers)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["id"], accepted.json()["role"]) == (str(owner.org_id), "operator")
    slug = accepted.json()["slug"]
    assert (await login(client, invitee.email, org=slug)).json()["org_id"] == str(owner.org_id)
    assert (await client.get(f"{API}/auth/invitations", headers=invitee.headers)).json()["total"] == 0
    listed = (await client.get(f"{API}/invitations", headers=owner.headers)).json()["items"]
    assert [i["status"] for i in listed] == ["accepted"]
    actions = [e.action for e in await audit_actions(app, owner.org_id)]
    assert actions[-3:] == ["invitation.create", "invitation.accept", "auth.login"]


async def test_only_the_addressee_sees_and_answers_it(client: httpx.AsyncClient, tenant) -> None:
    owner, invitee, bystander = await tenant(), await tenant(), await tenant()
    invitation = await _invite(client, owner.headers, invitee.email)
    assert (await client.get(f"{API}/auth/invitations", headers=bystander.headers)).json()["total"] == 0
    for verb in ("accept", "decline"):
        stolen = await client.post(f"{API}/auth/invitations/{invitation}/{verb}", headers=bystander.headers)
        assert stolen.status_code == 404, stolen.text
    # Another organisation neither lists nor revokes it.
    assert (await client.get(f"{API}/invitations", headers=bystander.headers)).json()["total"] == 0
    assert (await client.delete(f"{API}/invitations/{invitation}", headers=bystander.headers)).status_code == 404
    assert (await client.get(f"{API}/auth/invitations", headers=invitee.headers)).json()["total"] == 1


async def test_a_revoked_or_expired_invitation_cannot_be_accepted(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner, invitee = await tenant(), await tenant()
    revoked = await _invite(client, owner.headers, invitee.email)
    assert (await client.delete(f"{API}/invitations/{revoked}", headers=owner.headers)).status_code == 204
    closed = await client.post(f"{API}/auth/invitations/{revoked}/accept", headers=invitee.headers)
    assert (closed.status_code, error_code(closed)) == (409, "invitation_closed")
    expiring = await _invite(client, owner.headers, invitee.email)
    async with app.state.db.transaction() as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == uuid.UUID(expiring))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await client.get(f"{API}/auth/invitations", headers=invitee.headers)).json()["total"] == 0
    late = await client.post(f"{API}/auth/invitations/{expiring}/accept", headers=invitee.headers)
    assert (late.status_code, error_code(late)) == (409, "invitation_expired")
    statuses = {
        i["id"]: i["status"] for i in (await client.get(f"{API}/invitations", headers=owner.headers)).json()["items"]
    }
    assert statuses == {revoked: "revoked", expiring: "expired"}


async def test_an_inviter_grants_no_role_beyond_their_own(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    admin = await tenant(org_id=owner.org_id, role="admin")
    refused = await client.post(
        f"{API}/invitations", headers=admin.headers, json={"email": "someone@example.com", "role": "owner"}
    )
    assert (refused.status_code, error_code(refused)) == (403, "owner_only")
    bad = await client.post(f"{API}/invitations", headers=admin.headers, json={"email": "nope", "role": "viewer"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["location"] == "body:email"

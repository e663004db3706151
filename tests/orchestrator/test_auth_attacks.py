"""Attacks on authentication, each refused: forged, altered, stale or replayed credentials."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from orchestrator.security import totp
from tests.orchestrator._identity_helpers import (
    API,
    audit_actions,
    bearer,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    login,
)

pytestmark = pytest.mark.usefixtures("fast_hashing")


def claims_of(member: Any, **overrides: Any) -> dict[str, Any]:
    token = member.headers["Authorization"].split()[1]
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    claims.update(overrides)
    return claims


async def refused(client: httpx.AsyncClient, token: str) -> httpx.Response:
    response = await client.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert error_code(response) == "unauthorized"
    return response


async def test_the_genuine_token_is_accepted(client: httpx.AsyncClient, tenant) -> None:
    """The control: the attacks below differ from this only in what they forge."""
    owner = await tenant()
    assert (await client.get(f"{API}/auth/me", headers=owner.headers)).status_code == 200


async def test_alg_none_is_refused(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    forged = jwt.encode(claims_of(owner), None, algorithm="none")
    assert forged.endswith(".")  # really unsigned
    await refused(client, forged)


async def test_another_algorithm_with_the_right_key_is_refused(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await refused(client, jwt.encode(claims_of(owner), app.state.signing_key, algorithm="HS512"))


async def test_a_wrong_key_is_refused(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    response = await refused(client, jwt.encode(claims_of(owner), "x" * 48, algorithm="HS256"))
    assert "signature" in response.json()["error"]["message"]


async def test_an_expired_token_is_refused(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    past = int(time.time()) - 3600
    stale = jwt.encode(
        claims_of(owner, iat=past - 900, nbf=past - 900, exp=past), app.state.signing_key, algorithm="HS256"
    )
    response = await refused(client, stale)
    assert "expired" in response.json()["error"]["message"]


async def test_tampered_claims_are_refused(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    victim = await tenant()
    header, _payload, signature = owner.headers["Authorization"].split()[1].split(".")
    payload = claims_of(owner, org=str(victim.org_id))  # re-encoded, signature kept
    encoded = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    await refused(client, f"{header}.{encoded}.{signature}")


async def test_a_signed_token_naming_another_session_is_refused(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    """Even with the key, the claims must match a live session of that user in that organisation."""
    owner = await tenant()
    victim = await tenant()
    mixed = jwt.encode(claims_of(owner, org=str(victim.org_id)), app.state.signing_key, algorithm="HS256")
    await refused(client, mixed)
    invented = jwt.encode(claims_of(owner, sid=str(uuid.uuid4())), app.state.signing_key, algorithm="HS256")
    await refused(client, invented)


async def test_a_refresh_token_is_not_an_access_token(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    await refused(client, owner.refresh_token)


async def test_a_revoked_session_is_refused(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    token = owner.headers["Authorization"].split()[1]
    assert (await client.post(f"{API}/auth/logout", headers=owner.headers)).status_code == 204
    response = await refused(client, token)
    assert "revoked" in response.json()["error"]["message"]


async def test_a_reused_refresh_token_revokes_the_whole_session(
    client: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner = await tenant()
    rotated = await client.post(f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert rotated.status_code == 200
    new_pair = rotated.json()
    replay = await client.post(f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert replay.status_code == 401
    assert error_code(replay) == "refresh_reuse"
    # Everything of that session is dead: the new access token, the new refresh token, the old access token.
    await refused(client, new_pair["access_token"])
    await refused(client, owner.headers["Authorization"].split()[1])
    after = await client.post(f"{API}/auth/refresh", json={"refresh_token": new_pair["refresh_token"]})
    assert error_code(after) == "session_revoked"
    listed = await client.get(
        f"{API}/auth/sessions?include_revoked=true", headers=bearer((await login(client, owner.email)).json())
    )
    reasons = {s["id"]: s["revoke_reason"] for s in listed.json()["items"]}
    assert reasons[new_pair["session_id"]] == "refresh_reuse"
    assert "auth.refresh_reuse" in [e.action for e in await audit_actions(app, owner.org_id)]


async def test_a_replayed_totp_code_is_refused(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tenant
) -> None:
    now = 1_800_000_015.0
    monkeypatch.setattr(totp, "clock", lambda: now)
    owner = await tenant()
    secret = (await client.post(f"{API}/auth/mfa/totp", headers=owner.headers)).json()["secret"]
    confirm = await client.post(
        f"{API}/auth/mfa/totp/confirm", headers=owner.headers, json={"code": totp.code_at(secret, now - 30)}
    )
    assert confirm.status_code == 200
    code = totp.code_at(secret, now)
    assert (await login(client, owner.email, totp_code=code)).status_code == 200
    replay = await login(client, owner.email, totp_code=code)
    assert replay.status_code == 401
    assert error_code(replay) == "invalid_mfa_code"


async def test_a_disabled_membership_is_refused_at_once(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    disabled = await client.patch(f"{API}/users/{viewer.user_id}", json={"is_active": False}, headers=owner.headers)
    assert disabled.status_code == 200
    await refused(client, viewer.headers["Authorization"].split()[1])
    assert error_code(await login(client, viewer.email)) == "account_disabled"


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verified tokens are remembered (no second signature check), but not past their expiry,
    and never for another key."""
    from orchestrator.security import tokens

    secret = "k" * 48
    token, expires = tokens.issue_access_token(
        secret, user_id=uuid.uuid4(), org_id=uuid.uuid4(), session_id=uuid.uuid4(), ttl_s=60
    )
    assert tokens.decode_access_token(secret, token).expires_at == expires
    assert tokens.decode_access_token(secret, token).expires_at == expires  # from memory
    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.decode_access_token("w" * 48, token)
    with pytest.raises(tokens.TokenError, match="expected a refresh token"):
        tokens.decode_access_token(secret, token, token_type="refresh")
    real = time.time
    monkeypatch.setattr(tokens.time, "time", lambda: real() + 120)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.decode_access_token(secret, token)

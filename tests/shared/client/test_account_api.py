"""The account's calls against a real orchestrator: login with TOTP, who am I, organisations and
switching between them, refresh (tokens rotate, `on_tokens` hears of it) and sign-out."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from orchestrator.security import totp
from shared.client import ApiClient, ApiError
from tests.orchestrator._identity_helpers import make_instance_admin
from tests.orchestrator.conftest import PASSWORD, Member
from tests.shared.client.conftest import call

NOW = 1_800_000_015.0  # the middle of a 30 s TOTP step


async def test_login_with_totp_me_and_sign_out(
    live: httpx.AsyncClient, owner: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(totp, "clock", lambda: NOW)
    secret = (await live.post("/api/v1/auth/mfa/totp", headers=owner.headers)).json()["secret"]
    confirm = {"code": totp.code_at(secret, NOW - totp.STEP_S)}
    assert (await live.post("/api/v1/auth/mfa/totp/confirm", headers=owner.headers, json=confirm)).status_code == 200

    client = ApiClient(str(live.base_url))
    heard: list[str] = []
    client.on_tokens = lambda c: heard.append(c.refresh_token)
    with pytest.raises(ApiError) as caught:
        await call(client.login, owner.email, "wrong password")
    assert (caught.value.status, caught.value.code) == (401, "invalid_credentials")
    with pytest.raises(ApiError) as caught:
        await call(client.login, owner.email, PASSWORD)
    assert (caught.value.status, caught.value.code) == (401, "mfa_required")
    await call(client.login, owner.email, PASSWORD, totp_code=totp.code_at(secret, NOW))
    assert client.org_id == str(owner.org_id)
    assert heard == [client.refresh_token]
    assert client.refresh_token not in repr(client)

    me = await call(client.me)
    assert (me.email, me.org_id, me.role) == (owner.email, str(owner.org_id), "owner")
    assert "workflows:publish" in me.permissions

    spent = client.refresh_token
    await call(client.refresh)
    assert client.refresh_token != spent  # rotated
    assert heard[-1] == client.refresh_token

    kept = client.refresh_token
    await call(client.logout)
    assert (client.access_token, client.refresh_token) == ("", "")
    with pytest.raises(ApiError) as caught:
        await call(ApiClient(str(live.base_url), refresh_token=kept).me)  # the session is revoked
    assert caught.value.status == 401
    with pytest.raises(ApiError) as caught:
        await call(client.refresh)
    assert caught.value.code == "no_session"


async def test_organisations_are_listed_and_switched(
    api: ApiClient, app: FastAPI, live: httpx.AsyncClient, owner: Member
) -> None:
    await make_instance_admin(app, owner.user_id)
    second = (await live.post("/api/v1/orgs", json={"name": "Second Shop"}, headers=owner.headers)).json()
    orgs = await call(api.orgs)
    assert sorted((o.name == "Second Shop", o.role) for o in orgs) == [(False, "owner"), (True, "owner")]
    await call(api.switch_org, second["slug"])
    assert api.org_id == second["id"]
    assert (await call(api.me)).org_id == second["id"]
    with pytest.raises(ApiError) as caught:
        await call(api.switch_org, "no-such-org")
    assert caught.value.status == 404


async def test_threads_that_find_the_token_expired_together_refresh_once(api: ApiClient) -> None:
    """A refresh token works once and a spent one revokes the session: concurrent calls on a client
    with no access token yet (a restarted studio) must share one refresh."""
    heard: list[str] = []
    api.on_tokens = lambda c: heard.append(c.refresh_token)
    answers = await asyncio.gather(*(call(api.me) for _ in range(6)))
    assert {me.email for me in answers} == {answers[0].email}
    assert len(heard) == 1
    api.access_token = "expired"  # every thread gets a 401, one refreshes, all retry
    answers = await asyncio.gather(*(call(api.me) for _ in range(6)))
    assert len(answers) == 6
    assert len(heard) == 2
    assert (await call(api.me)).email == answers[0].email  # the session is alive

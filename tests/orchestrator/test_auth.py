"""Login, lockout, refresh rotation, logout, sessions and their limit, organisation switch,
password policy (length, classes, reuse, maximum age)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from orchestrator.db.base import utcnow
from orchestrator.models import LoginLockout
from tests.orchestrator._identity_helpers import (
    API,
    NEW_PASSWORD,
    audit_actions,
    bearer,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    lockout_rows,
    login,
    make_instance_admin,
    patch_org,
    set_user,
)
from tests.orchestrator.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_hashing")


async def test_login_returns_a_token_pair_that_authenticates(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    response = await login(client, owner.email.upper())  # e-mail is case-insensitive
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "bearer"
    assert tokens["org_id"] == str(owner.org_id)
    assert tokens["password_expired"] is False
    assert tokens["refresh_token"].startswith("rt_")
    assert response.headers["cache-control"] == "no-store"
    me = await client.get(f"{API}/auth/me", headers=bearer(tokens))
    assert me.json()["session_id"] == tokens["session_id"]


async def test_wrong_email_and_wrong_password_look_the_same(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    unknown = await login(client, "nobody@example.com", "Whatever-123-password")
    wrong = await login(client, owner.email, "Wrong-Password-123")
    assert unknown.status_code == wrong.status_code == 401
    assert error_code(unknown) == error_code(wrong) == "invalid_credentials"
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    failures = [e for e in await audit_actions(app) if e.action == "auth.login_failed"]
    assert {e.summary["email"] for e in failures} == {"nobody@example.com", owner.email}
    assert all("Wrong-Password-123" not in str(e.summary) for e in failures)


async def test_login_success_and_failure_are_audited(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await login(client, owner.email, "Wrong-Password-123")
    assert (await login(client, owner.email)).status_code == 200
    actions = [e.action for e in await audit_actions(app, owner.org_id)]
    assert actions[-2:] == ["auth.login_failed", "auth.login"]


async def test_lockout_after_repeated_failures_and_unlock(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await patch_org(client, owner.headers, password_policy={"lockout_threshold": 3, "lockout_minutes": 10})
    for _ in range(3):
        assert error_code(await login(client, owner.email, "Wrong-Password-123")) == "invalid_credentials"
    locked = await login(client, owner.email)  # even the right password is refused now
    assert locked.status_code == 403
    assert error_code(locked) == "locked"
    assert locked.json()["error"]["details"]["locked_until"]
    assert 500 < int(locked.headers["retry-after"]) <= 600
    listed = (await client.get(f"{API}/users/{owner.user_id}", headers=owner.headers)).json()
    assert listed["locked_until"]
    # The lock runs out: the right password works again and the count starts afresh.
    async with app.state.db.transaction() as session:
        await session.execute(
            update(LoginLockout)
            .where(LoginLockout.email == owner.email)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert (await login(client, owner.email)).status_code == 200
    assert await lockout_rows(app, owner.email) == {}


async def test_a_successful_login_resets_the_failure_count(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await patch_org(client, owner.headers, password_policy={"lockout_threshold": 3})
    for _ in range(2):
        await login(client, owner.email, "Wrong-Password-123")
    assert {scope: row.failures for scope, row in (await lockout_rows(app, owner.email)).items()} == {
        f"org:{(await client.get(f'{API}/orgs/current', headers=owner.headers)).json()['slug']}": 2,
        "src:127.0.0.1": 2,
    }
    assert (await login(client, owner.email)).status_code == 200
    assert await lockout_rows(app, owner.email) == {}
    for _ in range(2):
        await login(client, owner.email, "Wrong-Password-123")
    assert (await login(client, owner.email)).status_code == 200


async def test_refresh_rotates_and_the_old_token_is_spent(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    first = await client.post(f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert first.status_code == 200, first.text
    pair = first.json()
    assert pair["refresh_token"] != owner.refresh_token
    second = await client.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["session_id"] == pair["session_id"]
    unknown = await client.post(f"{API}/auth/refresh", json={"refresh_token": "rt_made-up"})
    assert error_code(unknown) == "invalid_refresh_token"


async def test_logout_revokes_the_session(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    assert (await client.post(f"{API}/auth/logout", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=owner.headers)).status_code == 401
    refused = await client.post(f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert error_code(refused) == "session_revoked"


async def test_own_sessions_are_listed_and_revocable(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    other = (await login(client, owner.email)).json()
    listed = (await client.get(f"{API}/auth/sessions", headers=owner.headers)).json()
    assert listed["total"] == 2
    assert sum(s["current"] for s in listed["items"]) == 1
    revoked = await client.delete(f"{API}/auth/sessions/{other['session_id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=bearer(other))).status_code == 401
    assert (await client.get(f"{API}/auth/sessions", headers=owner.headers)).json()["total"] == 1
    everything = await client.get(f"{API}/auth/sessions?include_revoked=true", headers=owner.headers)
    assert {s["revoke_reason"] for s in everything.json()["items"]} == {None, "user_revoked"}


async def test_another_users_session_cannot_be_revoked_as_ones_own(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    theirs = (await client.get(f"{API}/auth/sessions", headers=viewer.headers)).json()["items"][0]["id"]
    assert (await client.delete(f"{API}/auth/sessions/{theirs}", headers=owner.headers)).status_code == 404
    assert (await client.get(f"{API}/auth/me", headers=viewer.headers)).status_code == 200


async def test_admin_force_logout(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    sessions = await client.get(f"{API}/users/{viewer.user_id}/sessions", headers=owner.headers)
    assert sessions.json()["total"] == 1
    assert (await client.delete(f"{API}/users/{viewer.user_id}/sessions", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=viewer.headers)).status_code == 401
    refused = await client.delete(f"{API}/users/{owner.user_id}/sessions", headers=viewer.headers)
    assert refused.status_code == 401  # the viewer's session is gone


async def test_session_limit_revokes_the_oldest(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    await patch_org(client, owner.headers, max_sessions_per_user=2)
    second = (await login(client, owner.email)).json()
    third = (await login(client, owner.email)).json()  # owner's first session is the oldest
    assert (await client.get(f"{API}/auth/me", headers=owner.headers)).status_code == 401
    for pair in (second, third):
        assert (await client.get(f"{API}/auth/me", headers=bearer(pair))).status_code == 200
    every = (await client.get(f"{API}/auth/sessions?include_revoked=true", headers=bearer(third))).json()["items"]
    assert sorted(str(s["revoke_reason"]) for s in every) == ["None", "None", "session_limit"]


async def test_create_another_org_list_and_switch(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await make_instance_admin(app, owner.user_id)
    created = await client.post(f"{API}/orgs", json={"name": "Second Shop"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "owner"
    slug = created.json()["slug"]
    mine = (await client.get(f"{API}/orgs", headers=owner.headers)).json()
    assert mine["total"] == 2
    switched = await client.post(f"{API}/auth/switch", json={"org": slug}, headers=owner.headers)
    assert switched.status_code == 200
    assert switched.json()["org_id"] == created.json()["id"]
    current = await client.get(f"{API}/orgs/current", headers=bearer(switched.json()))
    assert current.json()["slug"] == slug
    by_login = await login(client, owner.email, org=slug)
    assert by_login.json()["org_id"] == created.json()["id"]
    stranger = await tenant()
    other_slug = (await client.get(f"{API}/orgs/current", headers=stranger.headers)).json()["slug"]
    assert (await client.post(f"{API}/auth/switch", json={"org": other_slug}, headers=owner.headers)).status_code == 404
    assert error_code(await login(client, owner.email, org=other_slug)) == "invalid_credentials"


async def test_password_change_checks_policy_and_signs_out_other_sessions(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    other = (await login(client, owner.email)).json()
    wrong = await client.post(
        f"{API}/auth/password",
        headers=owner.headers,
        json={"current_password": "Not-The-Password-1", "new_password": NEW_PASSWORD},
    )
    assert error_code(wrong) == "wrong_password"
    changed = await client.post(
        f"{API}/auth/password", headers=owner.headers, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get(f"{API}/auth/me", headers=owner.headers)).status_code == 200
    assert (await client.get(f"{API}/auth/me", headers=bearer(other))).status_code == 401
    assert (await login(client, owner.email)).status_code == 401
    assert (await login(client, owner.email, NEW_PASSWORD)).status_code == 200


async def test_policy_length_and_classes(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    await patch_org(client, owner.headers, password_policy={"min_length": 16, "min_classes": 4})
    for weak, phrase in (("Short-1a", "shorter than 16"), ("alllowercaseandlong1", "kind(s) of character")):
        refused = await client.post(
            f"{API}/auth/password", headers=owner.headers, json={"current_password": PASSWORD, "new_password": weak}
        )
        assert refused.status_code == 422
        assert error_code(refused) == "weak_password"
        assert phrase in refused.json()["error"]["message"]
        assert refused.json()["error"]["details"][0]["location"] == "body:new_password"
    ok = await client.post(
        f"{API}/auth/password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": "Long-Enough-1234-ok"},
    )
    assert ok.status_code == 204


async def test_policy_refuses_reuse_within_history(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    await patch_org(client, owner.headers, password_policy={"history": 2})
    same = await client.post(
        f"{API}/auth/password", headers=owner.headers, json={"current_password": PASSWORD, "new_password": PASSWORD}
    )
    assert error_code(same) == "password_reused"
    steps = [(PASSWORD, NEW_PASSWORD), (NEW_PASSWORD, "Third-Password-99-x")]
    for current, new in steps:
        assert (
            await client.post(
                f"{API}/auth/password", headers=owner.headers, json={"current_password": current, "new_password": new}
            )
        ).status_code == 204
    # The original is now 3 changes back, beyond a history of 2: allowed again; the previous one is not.
    reused = await client.post(
        f"{API}/auth/password",
        headers=owner.headers,
        json={"current_password": "Third-Password-99-x", "new_password": NEW_PASSWORD},
    )
    assert error_code(reused) == "password_reused"
    back = await client.post(
        f"{API}/auth/password",
        headers=owner.headers,
        json={"current_password": "Third-Password-99-x", "new_password": PASSWORD},
    )
    assert back.status_code == 204


async def test_expired_password_allows_only_change_and_logout(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await patch_org(client, owner.headers, password_policy={"max_age_days": 30})
    await set_user(app, owner.user_id, password_changed_at=utcnow() - timedelta(days=31))
    response = await login(client, owner.email)
    assert response.status_code == 200
    tokens = response.json()
    assert tokens["password_expired"] is True
    refused = await client.get(f"{API}/auth/me", headers=bearer(tokens))
    assert refused.status_code == 403
    assert error_code(refused) == "password_expired"
    assert error_code(await client.get(f"{API}/users", headers=bearer(tokens))) == "password_expired"
    changed = await client.post(
        f"{API}/auth/password",
        headers=bearer(tokens),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=bearer(tokens))).status_code == 200
    assert (await client.post(f"{API}/auth/logout", headers=bearer(tokens))).status_code == 204

"""Members, roles and what each role may do; organisation settings and the IP allowlist;
another tenant's objects are always a 404."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from orchestrator.api.routes import auth, invitations, orgs, roles, users
from tests.orchestrator._identity_helpers import (
    API,
    audit_actions,
    error_code,
    fast_hashing,  # noqa: F401 - fixture
    join_by_invitation,
    login,
    make_instance_admin,
    patch_org,
)
from tests.orchestrator.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_hashing")


@pytest.fixture
async def remote(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling from another address than the default client's 127.0.0.1."""
    transport = httpx.ASGITransport(app=app, client=("10.0.0.5", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _permissions(dependant: Dependant) -> list[str]:
    found = []
    for dep in dependant.dependencies:
        permission = getattr(dep.call, "permission", None)
        if permission is not None:
            found.append(permission.value)
        found += _permissions(dep)
    return found


def test_every_route_declares_a_permission_or_is_self_service() -> None:
    open_routes = auth.SELF_SERVICE | auth.PUBLIC | orgs.SELF_SERVICE
    for module in (auth, orgs, users, roles, invitations):
        for route in module.router.routes:
            declared = _permissions(route.dependant)  # type: ignore[attr-defined]
            assert declared or route.path in open_routes, f"{route.path} declares no permission"  # type: ignore[attr-defined]
            assert len(declared) <= 1


# --- members -------------------------------------------------------------------------------


async def test_create_list_search_and_get_members(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await make_instance_admin(app, owner.user_id)
    created = await client.post(
        f"{API}/users",
        headers=owner.headers,
        json={
            "email": "Ada@Example.com",
            "name": "Ada Lovelace",
            "password": "Analytical-Engine-1843",
            "role": "designer",
        },
    )
    assert created.status_code == 201, created.text
    ada = created.json()
    assert (ada["email"], ada["role"], ada["is_active"]) == ("ada@example.com", "designer", True)
    assert (await login(client, "ada@example.com", "Analytical-Engine-1843")).status_code == 200
    everyone = (await client.get(f"{API}/users", headers=owner.headers)).json()
    assert everyone["total"] == 2
    found = (await client.get(f"{API}/users?q=lovel", headers=owner.headers)).json()
    assert [u["id"] for u in found["items"]] == [ada["id"]]
    assert (await client.get(f"{API}/users?q=%25", headers=owner.headers)).json()["total"] == 0  # % is literal
    paged = (await client.get(f"{API}/users?limit=1&offset=1", headers=owner.headers)).json()
    assert (len(paged["items"]), paged["total"]) == (1, 2)
    assert (await client.get(f"{API}/users/{ada['id']}", headers=owner.headers)).json()["name"] == "Ada Lovelace"
    assert "user.create" in [e.action for e in await audit_actions(app, owner.org_id)]


async def test_a_new_users_password_follows_the_org_policy(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    await make_instance_admin(app, owner.user_id)
    weak = await client.post(
        f"{API}/users", headers=owner.headers, json={"email": "weak@example.com", "password": "short", "role": "viewer"}
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["details"][0]["location"] == "body:password"
    missing = await client.post(
        f"{API}/users", headers=owner.headers, json={"email": "x@example.com", "role": "viewer"}
    )
    assert missing.status_code == 422
    unknown_role = await client.post(
        f"{API}/users", headers=owner.headers, json={"email": "y@example.com", "password": PASSWORD, "role": "wizard"}
    )
    assert unknown_role.status_code == 422
    assert "wizard" in unknown_role.json()["error"]["message"]


async def test_an_existing_user_joins_by_invitation(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    elsewhere = await tenant()
    # An instance admin creating an account may learn the address is taken; nobody else gets that far.
    await make_instance_admin(app, owner.user_id)
    with_password = await client.post(
        f"{API}/users", headers=owner.headers, json={"email": elsewhere.email, "password": PASSWORD, "role": "viewer"}
    )
    assert error_code(with_password) == "user_exists"
    without = await client.post(
        f"{API}/users", headers=owner.headers, json={"email": elsewhere.email, "role": "viewer"}
    )
    assert without.status_code == 422
    assert "POST /invitations" in without.json()["error"]["message"]
    assert (
        await join_by_invitation(client, owner.headers, elsewhere.headers, elsewhere.email, "viewer")
    ).status_code == 200
    again = await client.post(
        f"{API}/invitations", headers=owner.headers, json={"email": elsewhere.email, "role": "viewer"}
    )
    assert error_code(again) == "already_member"
    assert (await login(client, elsewhere.email, org=None)).json()["org_id"] == str(elsewhere.org_id)
    # Created elsewhere: this organisation cannot rename them (and so learns nothing of where else they are);
    # they rename themselves.
    renamed = await client.patch(f"{API}/users/{elsewhere.user_id}", headers=owner.headers, json={"name": "Mallory"})
    assert error_code(renamed) == "not_created_here"
    assert (await client.patch(f"{API}/auth/me", headers=elsewhere.headers, json={"name": "Ada"})).status_code == 204
    assert (await client.get(f"{API}/users/{elsewhere.user_id}", headers=owner.headers)).json()["name"] == "Ada"
    own = (
        await client.post(
            f"{API}/users",
            headers=owner.headers,
            json={"email": "made-here@example.com", "password": "Violet-Canal-93-Lantern", "role": "viewer"},
        )
    ).json()
    renamed_own = await client.patch(f"{API}/users/{own['id']}", headers=owner.headers, json={"name": "Ada L."})
    assert renamed_own.json()["name"] == "Ada L."


async def test_another_tenants_user_is_a_404_everywhere(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    stranger = await tenant()
    base = f"{API}/users/{stranger.user_id}"
    for method, url, body in (
        ("GET", base, None),
        ("PATCH", base, {"role": "viewer"}),
        ("DELETE", base, None),
        ("GET", f"{base}/sessions", None),
        ("DELETE", f"{base}/sessions", None),
    ):
        response = await client.request(method, url, headers=owner.headers, json=body)
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get(f"{API}/auth/me", headers=stranger.headers)).status_code == 200


async def test_only_an_owner_grants_or_touches_owner(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    admin = await tenant(org_id=owner.org_id, role="admin")
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    grant = await client.patch(f"{API}/users/{viewer.user_id}", headers=admin.headers, json={"role": "owner"})
    assert grant.status_code == 403
    assert error_code(grant) == "owner_only"
    demote = await client.patch(f"{API}/users/{owner.user_id}", headers=admin.headers, json={"role": "viewer"})
    assert error_code(demote) == "owner_only"
    assert (await client.delete(f"{API}/users/{owner.user_id}", headers=admin.headers)).status_code == 403
    promoted = await client.patch(f"{API}/users/{viewer.user_id}", headers=owner.headers, json={"role": "owner"})
    assert promoted.json()["role"] == "owner"


async def test_the_last_owner_cannot_be_removed_demoted_or_disabled(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    for method, body in (("PATCH", {"role": "admin"}), ("PATCH", {"is_active": False}), ("DELETE", None)):
        response = await client.request(method, f"{API}/users/{owner.user_id}", headers=owner.headers, json=body)
        assert response.status_code == 409, response.text
        assert error_code(response) == "last_owner"
    second = await tenant(org_id=owner.org_id, role="owner")
    demoted = await client.patch(f"{API}/users/{owner.user_id}", headers=second.headers, json={"role": "admin"})
    assert demoted.json()["role"] == "admin"


async def test_removing_a_member_ends_their_sessions_here_only(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    other = await tenant()
    member = await tenant(org_id=owner.org_id, role="operator")
    assert (await join_by_invitation(client, other.headers, member.headers, member.email, "viewer")).status_code == 200
    assert (await client.delete(f"{API}/users/{member.user_id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/auth/me", headers=member.headers)).status_code == 401
    assert (await client.get(f"{API}/users/{member.user_id}", headers=owner.headers)).status_code == 404
    elsewhere = await login(client, member.email)
    assert elsewhere.json()["org_id"] == str(other.org_id)


# --- roles ---------------------------------------------------------------------------------


async def test_builtin_roles_are_listed_and_read_only(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    listed = (await client.get(f"{API}/roles", headers=owner.headers)).json()["items"]
    builtins = {r["name"]: r for r in listed if r["builtin"]}
    assert set(builtins) == {"owner", "admin", "designer", "operator", "viewer"}
    assert "users:manage" not in builtins["viewer"]["permissions"]
    viewer_id = builtins["viewer"]["id"]
    patched = await client.patch(f"{API}/roles/{viewer_id}", headers=owner.headers, json={"permissions": []})
    assert error_code(patched) == "builtin_role"
    assert error_code(await client.delete(f"{API}/roles/{viewer_id}", headers=owner.headers)) == "builtin_role"


async def test_custom_role_lifecycle(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    unknown = await client.post(
        f"{API}/roles",
        headers=owner.headers,
        json={"name": "auditor", "permissions": ["audit:read", "audit:wipe", "fly"]},
    )
    assert unknown.status_code == 422
    message = unknown.json()["error"]["message"]
    assert "'audit:wipe'" not in message  # named plainly, in one list
    assert "audit:wipe, fly" in message
    clash = await client.post(f"{API}/roles", headers=owner.headers, json={"name": "Admin", "permissions": []})
    assert error_code(clash) == "name_taken"
    created = await client.post(
        f"{API}/roles",
        headers=owner.headers,
        json={"name": "auditor", "description": "Reads the log", "permissions": ["audit:read"]},
    )
    assert created.status_code == 201, created.text
    role_id = created.json()["id"]
    member = await tenant(org_id=owner.org_id, role="viewer")
    assert (await client.get(f"{API}/users", headers=member.headers)).status_code == 403
    await client.patch(f"{API}/users/{member.user_id}", headers=owner.headers, json={"role": "auditor"})
    await client.patch(f"{API}/roles/{role_id}", headers=owner.headers, json={"permissions": ["users:read"]})
    assert (await client.get(f"{API}/users", headers=member.headers)).status_code == 200  # takes effect at once
    in_use = await client.delete(f"{API}/roles/{role_id}", headers=owner.headers)
    assert in_use.status_code == 409
    await client.patch(f"{API}/users/{member.user_id}", headers=owner.headers, json={"role": "viewer"})
    assert (await client.delete(f"{API}/roles/{role_id}", headers=owner.headers)).status_code == 204
    actions = [e.action for e in await audit_actions(app, owner.org_id)]
    assert {"role.create", "role.update", "role.delete"} <= set(actions)


async def test_another_tenants_role_is_a_404_and_cannot_be_granted(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    stranger = await tenant()
    theirs = (
        await client.post(f"{API}/roles", headers=stranger.headers, json={"name": "theirs", "permissions": []})
    ).json()
    assert (
        await client.patch(f"{API}/roles/{theirs['id']}", headers=owner.headers, json={"name": "mine"})
    ).status_code == 404
    assert (await client.delete(f"{API}/roles/{theirs['id']}", headers=owner.headers)).status_code == 404
    grant = await client.post(
        f"{API}/users", headers=owner.headers, json={"email": "z@example.com", "password": PASSWORD, "role": "theirs"}
    )
    assert grant.status_code == 422


async def test_no_one_hands_out_permissions_they_lack(client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    await client.post(
        f"{API}/roles",
        headers=owner.headers,
        json={"name": "people", "permissions": ["users:read", "users:manage", "roles:manage"]},
    )
    lead = await tenant(org_id=owner.org_id, role="viewer")
    await client.patch(f"{API}/users/{lead.user_id}", headers=owner.headers, json={"role": "people"})
    escalate = await client.post(
        f"{API}/roles", headers=lead.headers, json={"name": "boss", "permissions": ["credentials:manage"]}
    )
    assert escalate.status_code == 403
    grant_admin = await client.post(
        f"{API}/users", headers=lead.headers, json={"email": "new@example.com", "password": PASSWORD, "role": "admin"}
    )
    assert grant_admin.status_code == 403
    demote_admin = await tenant(org_id=owner.org_id, role="admin")
    touched = await client.patch(f"{API}/users/{demote_admin.user_id}", headers=lead.headers, json={"role": "viewer"})
    assert touched.status_code == 403


# --- what each built-in role may not do ------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        ("viewer", "GET", "/users", None),
        ("viewer", "GET", "/roles", None),
        ("operator", "PATCH", "/orgs/current", {"name": "Mine now"}),
        ("operator", "POST", "/users", {"email": "o@example.com", "password": PASSWORD, "role": "viewer"}),
        ("designer", "GET", "/users", None),
        ("designer", "POST", "/roles", {"name": "x", "permissions": []}),
        ("designer", "DELETE", "/users/{owner}/sessions", None),
        ("admin", "PATCH", "/users/{owner}", {"role": "viewer"}),
    ],
)
async def test_each_builtin_role_is_refused_what_it_lacks(
    client: httpx.AsyncClient, tenant, role: str, method: str, path: str, body: dict[str, str] | None
) -> None:
    owner = await tenant()
    member = await tenant(org_id=owner.org_id, role=role)
    assert (await client.get(f"{API}/orgs/current", headers=member.headers)).status_code == 200  # the control
    url = API + path.format(owner=owner.user_id)
    response = await client.request(method, url, headers=member.headers, json=body)
    assert response.status_code == 403, response.text


# --- organisation settings and the IP allowlist ---------------------------------------------


async def test_org_settings_are_validated(client: httpx.AsyncClient, app: FastAPI, tenant) -> None:
    owner = await tenant()
    bad_cidr = await client.patch(
        f"{API}/orgs/current", headers=owner.headers, json={"ip_allowlist": ["127.0.0.1", "10.0.0.0/33"]}
    )
    assert bad_cidr.status_code == 422
    assert bad_cidr.json()["error"]["details"][0]["location"] == "body:ip_allowlist.1"
    bad_policy = await client.patch(
        f"{API}/orgs/current", headers=owner.headers, json={"password_policy": {"min_length": 3}}
    )
    assert bad_policy.json()["error"]["details"][0]["location"] == "body:password_policy.min_length"
    unknown = await client.patch(f"{API}/orgs/current", headers=owner.headers, json={"password_policy": {"x": 1}})
    assert unknown.status_code == 422
    updated = (await patch_org(client, owner.headers, name="Renamed", password_policy={"min_length": 14})).json()
    assert updated["name"] == "Renamed"
    assert updated["password_policy"]["min_length"] == 14
    assert updated["password_policy"]["lockout_threshold"] == 5  # merged, not replaced
    assert "org.update" in [e.action for e in await audit_actions(app, owner.org_id)]


async def test_ip_allowlist(client: httpx.AsyncClient, remote: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    lockout = await client.patch(f"{API}/orgs/current", headers=owner.headers, json={"ip_allowlist": ["10.0.0.0/8"]})
    assert lockout.status_code == 409
    assert error_code(lockout) == "would_lock_out"
    assert (await remote.get(f"{API}/auth/me", headers=owner.headers)).status_code == 200  # no list yet: all allowed
    await patch_org(client, owner.headers, ip_allowlist=["127.0.0.0/8", "192.0.2.7"])
    assert (await client.get(f"{API}/auth/me", headers=owner.headers)).status_code == 200
    outside = await remote.get(f"{API}/auth/me", headers=owner.headers)
    assert outside.status_code == 403
    assert error_code(outside) == "ip_not_allowed"
    assert error_code(await login(remote, owner.email)) == "ip_not_allowed"
    refresh = await remote.post(f"{API}/auth/refresh", json={"refresh_token": owner.refresh_token})
    assert error_code(refresh) == "ip_not_allowed"
    await patch_org(client, owner.headers, ip_allowlist=[])
    assert (await remote.get(f"{API}/auth/me", headers=owner.headers)).status_code == 200

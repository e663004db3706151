"""One rule for acting on another member: nobody acts on a member who holds more than they do.

Generated from the route table: every route with `{user_id}` in its path acts on another user,
except the reads listed in `READS`; each is attacked over a real socket by a member who passes
its permission but holds less than the target, after a control request on a member who holds
less, which must succeed.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from orchestrator.security.permissions import BUILTIN_ROLES, Permission
from tests.orchestrator._identity_helpers import API, error_code, fast_hashing  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("fast_hashing")

READS = {("GET", "/api/v1/users/{user_id}")}
"""Routes on a user that only read what `users:read` lists anyway."""

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/api/v1/users/{user_id}"): {"name": "Renamed by someone"},
}
"""A harmless body for the routes that need one (a rename: any change at all is acting on them)."""

HELPDESK = sorted(
    {p.value for p in BUILTIN_ROLES["viewer"]}
    | {Permission.USERS_READ.value, Permission.USERS_MANAGE.value, Permission.SESSIONS_MANAGE.value}
)


def _acting_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = sorted(
        {
            (method, route.path)
            for route in app.routes
            if isinstance(route, APIRoute) and "{user_id}" in route.path
            for method in route.methods
        }
        - READS
    )
    assert len(found) >= 4, found  # PATCH and DELETE /users/{id}, GET and DELETE its sessions
    return found


async def _act(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], user_id: object
) -> httpx.Response:
    url = path.replace("/api/v1", API, 1).replace("{user_id}", str(user_id))
    return await http.request(method, url, headers=headers, json=BODIES.get((method, path)))


async def test_every_route_on_a_member_refuses_a_caller_who_holds_less(
    live: httpx.AsyncClient, app: FastAPI, tenant
) -> None:
    owner = await tenant()
    role = await live.post(f"{API}/roles", headers=owner.headers, json={"name": "helpdesk", "permissions": HELPDESK})
    assert role.status_code == 201, role.text
    helpdesk = await tenant(org_id=owner.org_id, role="viewer")
    assert (
        await live.patch(f"{API}/users/{helpdesk.user_id}", headers=owner.headers, json={"role": "helpdesk"})
    ).status_code == 200
    admin = await tenant(org_id=owner.org_id, role="admin")
    for method, path in _acting_routes(app):
        # Control: a member who holds less than the caller is in reach.
        viewer = await tenant(org_id=owner.org_id, role="viewer")
        control = await _act(live, method, path, helpdesk.headers, viewer.user_id)
        assert control.status_code < 300, (method, path, control.text)
        # The attacks: the owner is out of an admin's and the helpdesk's reach ...
        for caller in (admin, helpdesk):
            refused = await _act(live, method, path, caller.headers, owner.user_id)
            assert refused.status_code == 403, (method, path, caller.role, refused.text)
            assert error_code(refused) == "owner_only"
        # ... and a designer (who may publish flows) is out of the helpdesk's.
        designer = await tenant(org_id=owner.org_id, role="designer")
        refused = await _act(live, method, path, helpdesk.headers, designer.user_id)
        assert refused.status_code == 403, (method, path, refused.text)
        assert error_code(refused) == "holds_more"
        assert "workflows:publish" in refused.json()["error"]["details"]["permissions"]
    # The owner still has every session and membership the attacks aimed at.
    assert (await live.get(f"{API}/auth/me", headers=owner.headers)).status_code == 200

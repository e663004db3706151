"""Tenant isolation and access control, generated from the route table.

For every route under /api/v1 whose path names an object, one object is made in organisation A
through the public API (`_factories.FACTORIES`), then:

- the owner of organisation B (every permission) gets 404 on it, for every method; the owner
  of A then gets through with the same request (so the 404 is the tenant boundary, not a wrong id
  or an invalid body);
- a member of A whose custom role has no permission gets 403 naming the missing permission.

Every route declares a permission, except the explicit lists below, and refuses an
unauthenticated caller with 401 and the standard error body.

Runs on SQLite and on PostgreSQL (marker `postgres`), like the rest of the suite.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from orchestrator.app import create_app
from orchestrator.models import Membership, Role
from orchestrator.security.permissions import Permission
from orchestrator.services.artifacts import artifact_store, receive_artifact
from orchestrator.services.executions import get_execution
from orchestrator.services.identity import create_org_with_owner, create_user, start_session
from orchestrator.services.roles import builtin_role
from orchestrator.settings import Settings
from tests.orchestrator._factories import (
    FACTORIES,
    PASSWORD,
    Api,
    ApiRoute,
    api_routes,
    path_param_examples,
    request_for,
)

# One app per database for the whole module: every test makes its own organisation, which is
# exactly the isolation under test, so sharing the app is safe and saves a migration run per test.
in_module_loop = pytest.mark.asyncio(loop_scope="module")

# Built once at import, without its lifespan: the route table and the OpenAPI document need no database.
_APP = create_app(Settings(environment="test", data_dir=Path(tempfile.gettempdir()) / "rpa-route-table"))
SPEC: dict[str, Any] = _APP.openapi()
ROUTES = api_routes(_APP)
LABELS = {route.label for route in ROUTES}

PUBLIC: dict[str, str] = {
    "POST /auth/login": "logging in is how a caller gets a token",
    "POST /auth/refresh": "the refresh token in the body is the credential",
    "POST /agents/enroll": "a machine enrols before it has a key: the enrolment token in the body is the credential",
    "POST /hooks/{token}": "a webhook's caller (GitHub, Stripe) has no access token: the URL's token is the credential",
}
"""Routes a caller uses before holding an access token: no authentication, no permission."""

SELF_SERVICE: dict[str, str] = {
    "PUT /agents/me/artifacts/{execution_id}": (
        "an agent's own upload, authenticated by its agent key (tests/orchestrator/test_agent_uploads.py)"
    ),
    "GET /agents/me/assets/{execution_id}/{sha256}": (
        "an agent's own read of its job's assets, authenticated by its agent key (tests/agent/test_job_assets.py)"
    ),
    "GET /auth/me": "the caller's own identity",
    "PATCH /auth/me": "changes the caller's own name",
    "POST /auth/logout": "ends the caller's own session",
    "POST /auth/switch": "opens a session in another organisation the caller belongs to",
    "GET /auth/sessions": "the caller's own sessions",
    "DELETE /auth/sessions/{session_id}": "revokes one of the caller's own sessions",
    "POST /auth/password": "changes the caller's own password",
    "POST /auth/mfa/totp": "enrols the caller's own second factor",
    "POST /auth/mfa/totp/confirm": "confirms the caller's own second factor",
    "DELETE /auth/mfa/totp": "turns off the caller's own second factor",
    "GET /orgs": "the organisations the caller belongs to",
    "POST /orgs": "creates an organisation the caller will own (who may: the instance's setting org_creation)",
    "GET /auth/invitations": "the invitations addressed to the caller's own e-mail",
    "POST /auth/invitations/{invitation_id}/accept": "the caller accepts an invitation addressed to them",
    "POST /auth/invitations/{invitation_id}/decline": "the caller declines an invitation addressed to them",
}
"""Authenticated routes that act only on the caller themselves, so no permission applies."""

UNCOVERED: dict[str, str] = {
    "PUT /agents/me/artifacts/{execution_id}": (
        "authenticated by an agent key, not a user: tests/orchestrator/test_agent_uploads.py checks its boundary"
    ),
    "GET /agents/me/assets/{execution_id}/{sha256}": (
        "authenticated by an agent key, not a user: tests/agent/test_job_assets.py checks its boundary"
    ),
    "POST /auth/invitations/{invitation_id}/accept": (
        "an invitation is addressed to an e-mail, not kept by the caller's organisation: "
        "test_invitations.py checks that anyone else's is a 404"
    ),
    "POST /auth/invitations/{invitation_id}/decline": (
        "an invitation is addressed to an e-mail, not kept by the caller's organisation: "
        "test_invitations.py checks that anyone else's is a 404"
    ),
    "POST /hooks/{token}": (
        "the token names one trigger whatever the organisation: tests/orchestrator/triggers/test_webhook.py "
        "checks that a wrong one is a 404 with the one error body"
    ),
    "GET /templates/{template_id}": "templates are files shipped with the orchestrator, shared by every organisation",
    "POST /templates/{template_id}/instantiate": (
        "templates are files shipped with the orchestrator, shared by every organisation"
    ),
}
"""Routes that name an object this suite cannot make in an organisation, and why."""

STORED_BY_AGENTS: tuple[str, ...] = (
    "GET /executions/{execution_id}/artifacts/{artifact_id}",
    "GET /artifacts/{artifact_id}",
    "GET /artifacts/{artifact_id}/meta",
)
"""Routes naming an artifact. No user route makes one (agents upload them with their key), so
`_artifact` stores one the way the upload route does; `test_artifacts_of_another_organisation_*`
covers them."""

BODIES: dict[str, Any] = {
    "POST /workflows/{workflow_id}/triggers": {"name": "probe", "kind": "webhook"},
}
"""Request bodies for routes whose generated minimal body would not pass validation."""

OBJECT_ROUTES = [r for r in ROUTES if r.params and r.label not in UNCOVERED and r.label not in STORED_BY_AGENTS]
ARTIFACT_ROUTES = [r for r in ROUTES if r.label in STORED_BY_AGENTS]
LIST_ROUTES = [
    r for r in ROUTES if r.method == "GET" and not r.params and r.prefix in FACTORIES and r.label not in PUBLIC
]
"""Collections of a resource a factory makes: another organisation's objects must not show up."""
PERMISSIONED_OBJECT_ROUTES = [r for r in OBJECT_ROUTES if r.permission is not None]


def _ids(route: ApiRoute) -> str:
    return route.label


def _assert_error(response: httpx.Response, status: int, code: str, route: ApiRoute, who: str) -> dict[str, Any]:
    assert response.status_code == status, (
        f"{route.label} as {who}: expected {status}, got {response.status_code} {response.text[:300]}"
    )
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details", "request_id"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return dict(body["error"])


# -- fixtures: one app per database, fresh organisations per test -----------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    url = None
    if request.param == "postgres":
        server, template = request.getfixturevalue("postgres_template")
        url = server.url(asyncio.run(server.create_database(template)))
    return Settings(
        environment="test",
        data_dir=tmp_path_factory.mktemp("isolation"),
        database_url=url,
        rate_limit_per_minute=100_000,
        login_rate_limit_per_minute=100_000,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_app(shared_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(shared_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http(shared_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=shared_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _login(
    app: FastAPI, *, org_id: uuid.UUID | None = None, role_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, dict[str, str]]:
    """A new organisation and its owner (no `org_id`), or a new member of `org_id` holding `role_id`;
    returns the organisation and the member's headers."""
    email = f"m-{uuid.uuid4().hex[:10]}@example.com"
    async with app.state.db.transaction() as session:
        if org_id is None:
            # An instance admin, so the user factory may create accounts (`settings.account_creation`).
            org, user = await create_org_with_owner(
                session, org_name=f"Org {uuid.uuid4().hex[:6]}", email=email, password=PASSWORD, instance_admin=True
            )
            org_id = org.id
        else:
            user = await create_user(session, email=email, password=PASSWORD, home_org_id=org_id)
            session.add(
                Membership(
                    org_id=org_id, user_id=user.id, role_id=role_id or (await builtin_role(session, "viewer")).id
                )
            )
            await session.flush()
        settings: Settings = app.state.settings
        tokens = await start_session(
            session,
            user=user,
            org_id=org_id,
            signing_key=app.state.signing_key,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
        )
    return org_id, {"Authorization": f"Bearer {tokens.access_token}"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stranger(shared_app: FastAPI) -> dict[str, str]:
    """The owner of organisation B (holds every permission); B never gets an object of its own."""
    return (await _login(shared_app))[1]


async def _member_without_permissions(
    app: FastAPI, client: httpx.AsyncClient, org_id: uuid.UUID, owner: dict[str, str]
) -> dict[str, str]:
    """Headers of a member of the organisation whose custom role grants nothing."""
    name = f"nothing-{uuid.uuid4().hex[:6]}"
    if "POST /roles" in LABELS:
        role = await Api(client, owner).call("POST", "/roles", json={"name": name, "permissions": []})
        role_id = uuid.UUID(str(role["id"]))
    else:
        async with app.state.db.transaction() as session:
            row = Role(org_id=org_id, name=name, permissions=[])
            session.add(row)
            await session.flush()
            role_id = row.id
    return (await _login(app, org_id=org_id, role_id=role_id))[1]


# -- the explicit lists stay true ---------------------------------------------------------------


@pytest.mark.parametrize("listing", ["PUBLIC", "SELF_SERVICE", "UNCOVERED", "BODIES", "STORED_BY_AGENTS"])
def test_explicit_lists_name_only_existing_routes(listing: str) -> None:
    stale = sorted(set(globals()[listing]) - LABELS)
    assert not stale, f"{listing} names routes that do not exist: {stale}"


def test_every_object_route_has_a_factory_or_a_reason() -> None:
    orphans = sorted(r.label for r in OBJECT_ROUTES if r.prefix not in FACTORIES)
    assert not orphans, f"no factory makes their objects and UNCOVERED does not list them: {orphans}"


@pytest.mark.parametrize(
    "route", [r for r in ROUTES if r.label not in PUBLIC and r.label not in SELF_SERVICE], ids=_ids
)
def test_route_declares_a_permission(route: ApiRoute) -> None:
    assert route.permission in {p.value for p in Permission}, (
        f"{route.label} declares no permission: add Depends(require(Permission.X)), or list it in "
        "PUBLIC / SELF_SERVICE with the reason"
    )


@pytest.mark.parametrize("label", sorted(PUBLIC) + sorted(SELF_SERVICE))
def test_allowlisted_routes_declare_no_permission(label: str) -> None:
    route = next((r for r in ROUTES if r.label == label), None)
    assert route is not None, f"{label} does not exist"
    assert route.permission is None, f"{label} is allowlisted but declares {route.permission}"


# -- unauthenticated callers ----------------------------------------------------------------------


@in_module_loop
@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["no token", "bad token"])
@pytest.mark.parametrize("route", [r for r in ROUTES if r.label not in PUBLIC], ids=_ids)
async def test_unauthenticated_caller_gets_401(http: httpx.AsyncClient, route: ApiRoute, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await http.request(route.method, route.url(path_param_examples(route, SPEC)), headers=headers)
    _assert_error(response, 401, "unauthorized", route, "nobody")
    assert response.headers.get("www-authenticate") == "Bearer"


# -- another organisation's objects -------------------------------------------------------------------


@in_module_loop
@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=_ids)
async def test_another_organisation_gets_404(
    shared_app: FastAPI, http: httpx.AsyncClient, stranger: dict[str, str], route: ApiRoute
) -> None:
    _org, owner = await _login(shared_app)
    values = await Api(http, owner).objects(route.prefix)
    request = request_for(route, values, SPEC, BODIES.get(route.label))

    response = await http.request(**request, headers=stranger)
    _assert_error(response, 404, "not_found", route, "the owner of another organisation")

    own = await http.request(**request, headers=owner)
    reached = own.status_code < 500 and own.status_code not in (401, 403, 404)
    assert reached, (
        f"{route.label}: the owner of the object's organisation gets {own.status_code} {own.text[:300]} "
        "with the same request, so the 404 above proves nothing"
    )


@in_module_loop
@pytest.mark.parametrize("route", LIST_ROUTES, ids=_ids)
async def test_another_organisation_does_not_see_the_object_in_lists(
    shared_app: FastAPI, http: httpx.AsyncClient, stranger: dict[str, str], route: ApiRoute
) -> None:
    _org, owner = await _login(shared_app)
    values = await Api(http, owner).objects(route.prefix)
    ids = {value for value in values.values() if _is_uuid(value)}
    request = request_for(route, {}, SPEC)
    own = await http.request(**request, headers=owner)
    assert own.status_code == 200, f"{route.label} as the owner: {own.status_code} {own.text[:300]}"
    response = await http.request(**request, headers=stranger)
    assert response.status_code == 200, f"{route.label}: {response.status_code} {response.text[:300]}"
    leaked = sorted(i for i in ids if i in response.text)
    assert not leaked, f"{route.label} shows another organisation's object(s) {leaked}: {response.text[:500]}"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@in_module_loop
@pytest.mark.parametrize("route", PERMISSIONED_OBJECT_ROUTES, ids=_ids)
async def test_member_without_permissions_gets_403(
    shared_app: FastAPI, http: httpx.AsyncClient, route: ApiRoute
) -> None:
    org_id, owner = await _login(shared_app)
    values = await Api(http, owner).objects(route.prefix)
    member = await _member_without_permissions(shared_app, http, org_id, owner)
    response = await http.request(**request_for(route, values, SPEC, BODIES.get(route.label)), headers=member)
    error = _assert_error(response, 403, "forbidden", route, "a member without permissions")
    assert error["details"] == {"permission": route.permission}, error


# -- artifacts (stored by agents, not by a user route) --------------------------------------------


async def _artifact(
    app: FastAPI, client: httpx.AsyncClient, org_id: uuid.UUID, owner: dict[str, str]
) -> dict[str, str]:
    """An artifact of an execution of the owner's organisation, stored as the agents' upload route does."""
    values = await Api(client, owner).objects("/executions")
    execution_id = uuid.UUID(values["execution_id"])

    async def chunks() -> AsyncIterator[bytes]:
        yield b"kept by org A"

    async with app.state.db.transaction() as session:
        execution = await get_execution(session, org_id, execution_id)
        artifact = await receive_artifact(
            session, artifact_store(app.state.settings), execution, name="a.txt", chunks=chunks(), limit=100
        )
    return {**values, "artifact_id": str(artifact.id)}


@in_module_loop
@pytest.mark.parametrize("route", ARTIFACT_ROUTES, ids=_ids)
async def test_artifacts_of_another_organisation_are_404_not_403(
    shared_app: FastAPI, http: httpx.AsyncClient, stranger: dict[str, str], route: ApiRoute
) -> None:
    org_id, owner = await _login(shared_app)
    request = request_for(route, await _artifact(shared_app, http, org_id, owner), SPEC)

    response = await http.request(**request, headers=stranger)
    _assert_error(response, 404, "not_found", route, "the owner of another organisation")
    own = await http.request(**request, headers=owner)
    assert own.status_code == 200, f"{route.label} as the owner: {own.status_code} {own.text[:300]}"
    member = await _member_without_permissions(shared_app, http, org_id, owner)
    error = _assert_error(await http.request(**request, headers=member), 403, "forbidden", route, "a bare member")
    assert error["details"] == {"permission": route.permission}, error

"""Credential use is access control: a member who may write, publish and start flows, but whom
a credential does not allow, cannot make a flow read it, however the flow transforms the value
(`{{ secrets.x | upper }}` goes past any masker). Each attack follows a control request that
differs only in who asks."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from orchestrator.models.executions import Execution
from orchestrator.services.credential_access import node_path, uses_of
from tests.orchestrator._identity_helpers import fast_hashing  # noqa: F401 - fixture
from tests.orchestrator._vault_helpers import create as create_credential
from tests.orchestrator._workflows_helpers import API, create, publish

pytestmark = pytest.mark.usefixtures("fast_hashing")

TRANSFORMS = [
    "{{ secrets.x | upper }}",
    "{{ secrets.x | reverse | join }}",
    "{{ secrets.x[:12] }}",
    "{{ secrets['x.password'] | list | join(',') }}",
    "{{ secrets.get('x') | title }}",
]


def leaking_flow(template: str, name: str = "Leak") -> dict[str, Any]:
    """A flow whose output is the credential, transformed past the masker."""
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "nodes": [
            {"id": "hello", "type": "core.log", "params": {"message": "hi"}},
            {
                "id": "loop",
                "type": "control.foreach",
                "params": {"items": [1]},
                "body": {"nodes": [{"id": "leak", "type": "data.template", "params": {"template": template}}]},
            },
        ],
        "edges": [{"from": "hello", "to": "loop"}],
        "outputs": {"out": "{{ steps.loop.output }}"},
    }


async def _setup(client: httpx.AsyncClient, tenant: Any, **access: Any) -> tuple[Any, Any]:
    owner = await tenant()
    designer = await tenant(org_id=owner.org_id, role="designer")
    extra = {"access": access} if access else {}
    await create_credential(
        client,
        owner.headers,
        "x",
        "username_password",
        {"username": "svc", "password": "pw-" + uuid.uuid4().hex},
        **extra,
    )
    return owner, designer


def _refusal(response: httpx.Response, credential: str = "x") -> dict[str, Any]:
    assert response.status_code == 403, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "credential_not_allowed"
    assert f"credential '{credential}'" in error["message"]
    assert error["request_id"]
    return error


@pytest.mark.parametrize("template", TRANSFORMS)
async def test_a_member_the_credential_does_not_allow_cannot_publish_a_flow_reading_it(
    client: httpx.AsyncClient, tenant: Any, template: str
) -> None:
    owner, designer = await _setup(client, tenant)
    # Control: the owner (allowed by default) publishes the very same document.
    allowed = await create(client, owner.headers, "Allowed", leaking_flow(template, "Allowed"))
    assert await publish(client, owner.headers, allowed["id"]) == 1
    # Attack: the designer may write and publish flows, but not use credential x.
    mine = await create(client, designer.headers, "Mine", leaking_flow(template, "Mine"))
    response = await client.post(f"{API}/workflows/{mine['id']}/publish", json={}, headers=designer.headers)
    error = _refusal(response)
    assert "loop/leak: params.template" in error["message"]
    assert error["details"]["credentials"] == [
        {"credential": "x", "reason": "role 'designer' may not use it", "nodes": ["loop/leak: params.template"]}
    ]
    versions = await client.get(f"{API}/workflows/{mine['id']}/versions", headers=designer.headers)
    assert versions.json()["total"] == 0


async def test_a_member_the_credential_does_not_allow_cannot_start_a_published_flow_reading_it(
    client: httpx.AsyncClient, tenant: Any, app: FastAPI
) -> None:
    owner, designer = await _setup(client, tenant)
    workflow = await create(client, owner.headers, "Report", leaking_flow("{{ secrets.x | upper }}", "Report"))
    await publish(client, owner.headers, workflow["id"])
    started = await client.post(f"{API}/executions", json={"workflow_id": workflow["id"]}, headers=owner.headers)
    assert started.status_code == 201, started.text
    assert started.json()["credentials"] == ["x"]
    shown = await client.get(f"{API}/executions/{started.json()['id']}", headers=owner.headers)
    assert shown.json()["credentials"] == ["x"]

    for _ in range(2):  # the first start, then one the fast start path has seen before
        response = await client.post(
            f"{API}/executions", json={"workflow_id": workflow["id"]}, headers=designer.headers
        )
        _refusal(response)
    batch = await client.post(
        f"{API}/executions/batch", json={"items": [{"workflow_id": workflow["id"]}]}, headers=designer.headers
    )
    _refusal(batch)
    cancelled = await client.post(f"{API}/executions/{started.json()['id']}/cancel", json={}, headers=owner.headers)
    assert cancelled.status_code == 200, cancelled.text
    retry = await client.post(f"{API}/executions/{started.json()['id']}/retry", json={}, headers=designer.headers)
    _refusal(retry)
    async with app.state.db.transaction() as session:
        stored = (await session.scalars(select(Execution.created_by).where(Execution.org_id == owner.org_id))).all()
    assert stored == [owner.user_id]


async def test_roles_named_by_the_credential_may_use_it(client: httpx.AsyncClient, tenant: Any) -> None:
    owner, designer = await _setup(client, tenant, roles=["designer"])
    mine = await create(client, designer.headers, "Mine", leaking_flow("{{ secrets.x | upper }}", "Mine"))
    assert await publish(client, designer.headers, mine["id"]) == 1
    # Narrowed afterwards: the next start is refused, naming where the flow reads it.
    credential = (await client.get(f"{API}/credentials", headers=owner.headers)).json()["items"][0]
    changed = await client.patch(
        f"{API}/credentials/{credential['id']}", headers=owner.headers, json={"access": {"roles": ["admin"]}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["access"]["roles"] == ["admin"]
    _refusal(await client.post(f"{API}/executions", json={"workflow_id": mine["id"]}, headers=designer.headers))


async def test_the_workflow_scope_limits_which_workflows_may_read_it(client: httpx.AsyncClient, tenant: Any) -> None:
    owner, _designer = await _setup(client, tenant, roles=["owner"], tags=["finance"])
    tagged = await create(client, owner.headers, "Tagged", leaking_flow("{{ secrets.x }}", "Tagged"), tags=["finance"])
    assert await publish(client, owner.headers, tagged["id"]) == 1
    other = await create(client, owner.headers, "Other", leaking_flow("{{ secrets.x }}", "Other"))
    error = _refusal(await client.post(f"{API}/workflows/{other['id']}/publish", json={}, headers=owner.headers))
    assert "outside its workflow scope" in error["message"]


async def test_a_bundle_cannot_bring_in_a_version_reading_a_credential_the_importer_may_not_use(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    owner, designer = await _setup(client, tenant)
    source = await create(client, owner.headers, "Source", leaking_flow("{{ secrets.x | upper }}", "Source"))
    await publish(client, owner.headers, source["id"])
    bundle = (await client.get(f"{API}/workflows/{source['id']}/export", headers=owner.headers)).json()
    imported = await client.post(
        f"{API}/workflows/import", params={"on_conflict": "rename"}, json=bundle, headers=owner.headers
    )
    assert imported.status_code == 201, imported.text  # the control: the owner may
    refused = await client.post(
        f"{API}/workflows/import", params={"on_conflict": "rename"}, json=bundle, headers=designer.headers
    )
    _refusal(refused)


async def test_an_unknown_role_in_access_is_refused_with_its_location(client: httpx.AsyncClient, tenant: Any) -> None:
    owner = await tenant()
    response = await client.post(
        f"{API}/credentials",
        headers=owner.headers,
        json={
            "name": "y",
            "kind": "token",
            "value": {"token": "t-" + uuid.uuid4().hex},
            "access": {"roles": ["nobody"]},
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["location"] == "body:access.roles"


def test_node_paths_name_nodes_by_id_inside_containers() -> None:
    document = leaking_flow("{{ secrets.x.password }}")
    assert uses_of(document) == {"x": ["loop/leak: params.template"]}
    assert node_path(document, ("outputs", "out")) == "outputs.out"

"""`/api/v1/artifacts/retention`: rules read, set and removed over HTTP, with RBAC, audit and the
standard error body; another organisation's workflow is a 404."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator._workflows_helpers import audit_actions

URL = "/api/v1/artifacts/retention"


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    return dict(body["error"])


async def test_rules_are_read_set_and_removed(app: FastAPI, client: httpx.AsyncClient, tenant) -> None:
    owner = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    empty = await client.get(URL, headers=owner.headers)
    assert empty.json() == {"default_days": None, "organisation": None, "workflows": []}

    put = await client.put(URL, json={"days": 30}, headers=owner.headers)
    assert put.json() == {"workflow_id": None, "days": 30, "keep_last": None}
    await client.put(URL, json={"workflow_id": str(workflow), "keep_last": 3}, headers=owner.headers)
    rules = (await client.get(URL, headers=owner.headers)).json()
    assert rules["organisation"] == {"workflow_id": None, "days": 30, "keep_last": None}
    assert rules["workflows"] == [{"workflow_id": str(workflow), "days": None, "keep_last": 3}]

    gone = await client.delete(URL, params={"workflow_id": str(workflow)}, headers=owner.headers)
    assert gone.status_code == 204
    assert (await client.get(URL, headers=owner.headers)).json()["workflows"] == []
    again = await client.delete(URL, params={"workflow_id": str(workflow)}, headers=owner.headers)
    assert f"workflow {workflow} has no retention rule" in str(_error(again, 404, "not_found")["message"])
    assert (await client.delete(URL, headers=owner.headers)).status_code == 204
    assert (await client.get(URL, headers=owner.headers)).json()["organisation"] is None

    actions = await audit_actions(app, owner.org_id)
    assert [a for a in actions if a.startswith("artifact_retention.")] == [
        "artifact_retention.set",
        "artifact_retention.set",
        "artifact_retention.delete",
        "artifact_retention.delete",
    ]


async def test_viewers_read_only_and_other_organisations_see_nothing(
    app: FastAPI, client: httpx.AsyncClient, tenant
) -> None:
    owner = await tenant()
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    stranger = await tenant()
    workflow = await make_workflow(app, owner.org_id)
    await client.put(URL, json={"workflow_id": str(workflow), "days": 7}, headers=owner.headers)

    assert (await client.get(URL, headers=viewer.headers)).json()["workflows"][0]["days"] == 7
    denied = await client.delete(URL, params={"workflow_id": str(workflow)}, headers=viewer.headers)
    assert _error(denied, 403, "forbidden")["details"] == {"permission": "org:manage"}
    _error(await client.put(URL, json={"days": 1}, headers=viewer.headers), 403, "forbidden")

    assert (await client.get(URL, headers=stranger.headers)).json()["workflows"] == []
    for response in (
        await client.delete(URL, params={"workflow_id": str(workflow)}, headers=stranger.headers),
        await client.put(URL, json={"workflow_id": str(workflow), "days": 1}, headers=stranger.headers),
        await client.put(URL, json={"workflow_id": str(uuid.uuid4()), "days": 1}, headers=owner.headers),
    ):
        _error(response, 404, "not_found")
    _error(await client.put(URL, json={"days": 0}, headers=owner.headers), 422, "invalid")
    assert (await client.get(URL, headers=owner.headers)).json()["workflows"][0]["days"] == 7

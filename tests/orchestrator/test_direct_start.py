"""`POST /api/v1/executions` answered without FastAPI's request machinery (`api/direct_start.py`):
a plain start is answered on the direct path, anything unusual reaches the route with its body
intact, and through the app the answers are the route's."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from orchestrator.api import direct_start
from orchestrator.api.direct_start import DirectStart
from orchestrator.errors import Conflict
from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator.conftest import Member, TenantFactory

API = "/api/v1"


class _Route:
    """Stands for FastAPI behind the direct path: records what reaches it, answers 299."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"route"})


@pytest.fixture
async def direct(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, _Route]]:
    """A client of the direct path alone, the route behind it recorded."""
    route = _Route()
    path = DirectStart(route, direct_start.route_of(app, f"{API}/executions"))

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # as the app sets it before its middleware
        scope.setdefault("state", {})["request_id"] = "rid-1"
        await path(scope, receive, send)

    transport = httpx.ASGITransport(app=with_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, route


async def _owner_and_workflow(app: FastAPI, tenant: TenantFactory) -> tuple[Member, uuid.UUID]:
    owner = await tenant()
    return owner, await make_workflow(app, owner.org_id)


async def test_a_plain_start_is_answered_on_the_direct_path(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory, direct: tuple[httpx.AsyncClient, _Route]
) -> None:
    owner, workflow_id = await _owner_and_workflow(app, tenant)
    only_direct, route = direct
    answer = await only_direct.post(
        f"{API}/executions",
        headers=owner.headers,
        json={"workflow_id": str(workflow_id), "inputs": {"customer": "ACME"}, "priority": "urgent"},
    )
    assert answer.status_code == 201, answer.text
    assert route.bodies == []
    body = answer.json()
    assert (body["state"], body["priority"], body["inputs"]) == ("queued", "urgent", {"customer": "ACME", "count": 3})
    stored = (await client.get(f"{API}/executions/{body['id']}", headers=owner.headers)).json()
    assert {**stored, "waiting_reason": None} == body
    audit = (
        await client.get(
            f"{API}/audit", headers=owner.headers, params={"action": "execution.start", "target_id": body["id"]}
        )
    ).json()
    assert [(entry["actor"], entry["request_id"]) for entry in audit["items"]] == [(owner.email, "rid-1")]


@pytest.mark.parametrize(
    "case",
    [
        "not json",
        "no workflow",
        "text/plain",
        "no token",
        "viewer",
        "unknown workflow",
        "bad inputs",
        "chunked and large",
        "charset",
    ],
)
async def test_anything_unusual_reaches_the_route_with_its_body(  # noqa: C901
    app: FastAPI,
    tenant: TenantFactory,
    direct: tuple[httpx.AsyncClient, _Route],
    case: str,
) -> None:
    owner, workflow_id = await _owner_and_workflow(app, tenant)
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    start: dict[str, Any] = {"workflow_id": str(workflow_id), "inputs": {"customer": "ACME"}}
    headers = {**owner.headers, "content-type": "application/json"}
    content: Any = json.dumps(start).encode()
    if case == "not json":
        content = b'{"workflow_id": '
    elif case == "no workflow":
        content = b'{"inputs": {}}'
    elif case == "text/plain":
        headers["content-type"] = "text/plain"
    elif case == "no token":
        del headers["Authorization"]
    elif case == "viewer":
        headers.update(viewer.headers)
    elif case == "unknown workflow":
        content = json.dumps({**start, "workflow_id": str(uuid.uuid4())}).encode()
    elif case == "bad inputs":
        content = json.dumps({**start, "inputs": {"count": "many"}}).encode()
    elif case == "chunked and large":
        big = json.dumps({**start, "inputs": {"customer": "x" * (1 << 20)}}).encode()

        async def chunks() -> AsyncIterator[bytes]:
            for at in range(0, len(big), 65536):
                yield big[at : at + 65536]

        content = chunks()
    elif case == "charset":
        headers["content-type"] = "application/json; charset=latin-1"
    only_direct, route = direct
    answer = await only_direct.post(f"{API}/executions", headers=headers, content=content)
    assert (answer.status_code, answer.text) == (299, "route")
    expected = big if case == "chunked and large" else content
    assert route.bodies == [expected]


async def test_other_requests_pass_untouched(
    app: FastAPI, tenant: TenantFactory, direct: tuple[httpx.AsyncClient, _Route]
) -> None:
    owner, workflow_id = await _owner_and_workflow(app, tenant)
    only_direct, route = direct
    start = {"workflow_id": str(workflow_id), "inputs": {"customer": "ACME"}}
    for method, path in (
        ("POST", f"{API}/executions/batch"),
        ("PUT", f"{API}/executions"),
        ("POST", f"{API}/executions/"),
        ("POST", f"{API}/workflows"),
    ):
        answer = await only_direct.request(method, path, headers=owner.headers, json=start)
        assert answer.status_code == 299, (method, path)
    assert len(route.bodies) == 4


async def test_an_error_after_the_writer_took_the_start_is_answered_there(
    app: FastAPI, tenant: TenantFactory, direct: tuple[httpx.AsyncClient, _Route], monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, workflow_id = await _owner_and_workflow(app, tenant)
    submitted: list[object] = []

    async def refuse(new: object) -> object:
        submitted.append(new)
        raise Conflict("the queue is closed", code="queue_closed")

    monkeypatch.setattr(app.state.start_writer, "submit", refuse)
    only_direct, route = direct
    answer = await only_direct.post(
        f"{API}/executions",
        headers=owner.headers,
        json={"workflow_id": str(workflow_id), "inputs": {"customer": "ACME"}},
    )
    assert answer.status_code == 409
    assert answer.json() == {
        "error": {"code": "queue_closed", "message": "the queue is closed", "details": None, "request_id": "rid-1"}
    }
    assert len(submitted) == 1
    assert route.bodies == []  # not started a second time by the route


async def test_through_the_app_the_answers_are_the_routes(
    app: FastAPI, client: httpx.AsyncClient, tenant: TenantFactory
) -> None:
    owner, workflow_id = await _owner_and_workflow(app, tenant)
    viewer = await tenant(org_id=owner.org_id, role="viewer")
    url = f"{API}/executions"
    plain = await client.post(
        url,
        headers={**owner.headers, "x-request-id": "req-42"},
        json={"workflow_id": str(workflow_id), "inputs": {"customer": "ACME"}},
    )
    assert plain.status_code == 201
    assert plain.headers["x-request-id"] == "req-42"
    assert plain.headers["content-type"] == "application/json"

    def error(answer: httpx.Response) -> tuple[int, str, str]:
        return answer.status_code, answer.json()["error"]["code"], answer.json()["error"]["message"]

    assert error(await client.post(url, headers=owner.headers, json={"inputs": {}})) == (
        422,
        "invalid",
        "body:workflow_id: Field required",
    )
    assert error(await client.post(url, json={"workflow_id": str(workflow_id)})) == (
        401,
        "unauthorized",
        "an access token is required (Authorization: Bearer …)",
    )
    assert error(await client.post(url, headers=viewer.headers, json={"workflow_id": str(workflow_id)})) == (
        403,
        "forbidden",
        "this needs the 'executions:start' permission",
    )
    assert error(await client.post(url, headers=owner.headers, json={"workflow_id": str(uuid.uuid4())}))[:2] == (
        404,
        "not_found",
    )
    bad = await client.post(
        url, headers=owner.headers, json={"workflow_id": str(workflow_id), "inputs": {"count": "many"}}
    )
    assert bad.status_code == 422
    assert sorted(d["location"] for d in bad.json()["error"]["details"]) == ["inputs.count", "inputs.customer"]
    metrics = (await client.get("/metrics")).text
    assert 'rpa_http_requests_total{method="POST",route="/api/v1/executions",status="201"} 1.0' in metrics
    assert 'rpa_http_requests_total{method="POST",route="/api/v1/executions",status="422"} 2.0' in metrics


async def test_without_the_start_route_everything_passes(app: FastAPI, tenant: TenantFactory) -> None:
    owner, workflow_id = await _owner_and_workflow(app, tenant)
    route = _Route()
    assert direct_start.route_of(app, f"{API}/no-such-route") is None
    path = DirectStart(route, None)

    async def with_app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app
        await path(scope, receive, send)

    transport = httpx.ASGITransport(app=with_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post(f"{API}/executions", headers=owner.headers, json={"workflow_id": str(workflow_id)})
    assert answer.status_code == 299
    assert len(route.bodies) == 1

"""`Idempotency-Key` on starts: a repeated request with the same key gets the first request's
executions and stores nothing; another body under the key is refused; keys are per caller and
organisation, and expire."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, update

from orchestrator.db.base import utcnow
from orchestrator.models.executions import Execution, StartKey
from tests.orchestrator._execution_helpers import make_workflow
from tests.orchestrator.conftest import TenantFactory

API = "/api/v1"


async def _count(app: FastAPI, org_id: uuid.UUID) -> int:
    async with app.state.db.transaction() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Execution).where(Execution.org_id == org_id)) or 0
        )


def _start(workflow_id: uuid.UUID, customer: str = "ACME") -> dict[str, Any]:
    return {"workflow_id": str(workflow_id), "inputs": {"customer": customer}}


async def test_a_repeated_start_with_its_key_is_stored_once(app: FastAPI, client: Any, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    # Control: without a key, the same request twice is two executions.
    for _ in range(2):
        assert (
            await client.post(f"{API}/executions", json=_start(workflow_id), headers=owner.headers)
        ).status_code == 201
    assert await _count(app, owner.org_id) == 2

    keyed = {**owner.headers, "Idempotency-Key": "order-4711"}
    first = await client.post(f"{API}/executions", json=_start(workflow_id), headers=keyed)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The body in another key order and with a default spelt out is the same request.
    again = await client.post(
        f"{API}/executions",
        headers=keyed,
        json={"inputs": {"customer": "ACME"}, "version": None, "workflow_id": str(workflow_id)},
    )
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await _count(app, owner.org_id) == 3

    other = await client.post(f"{API}/executions", json=_start(workflow_id, "Other Ltd"), headers=keyed)
    assert other.status_code == 422
    error = other.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "different request" in error["message"]
    assert error["request_id"]
    assert await _count(app, owner.org_id) == 3


async def test_keys_belong_to_their_caller_and_organisation(app: FastAPI, client: Any, tenant: TenantFactory) -> None:
    owner = await tenant()
    colleague = await tenant(org_id=owner.org_id, role="admin")
    stranger = await tenant()
    ids = set()
    for who in (owner, colleague, stranger):
        workflow_id = await make_workflow(app, who.org_id)
        response = await client.post(
            f"{API}/executions", json=_start(workflow_id), headers={**who.headers, "Idempotency-Key": "same-key"}
        )
        assert response.status_code == 201, response.text
        assert "idempotent-replayed" not in response.headers
        ids.add(response.json()["id"])
    assert len(ids) == 3


async def test_a_batch_with_a_key_and_concurrent_repeats(app: FastAPI, client: Any, tenant: TenantFactory) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    body = {"items": [_start(workflow_id, "a"), _start(workflow_id, "b")]}
    keyed = {**owner.headers, "Idempotency-Key": "batch-1"}
    answers = await asyncio.gather(
        *(client.post(f"{API}/executions/batch", json=body, headers=keyed) for _ in range(4))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({tuple(item["id"] for item in a.json()["items"]) for a in answers}) == 1
    assert sum("idempotent-replayed" not in a.headers for a in answers) == 1
    assert await _count(app, owner.org_id) == 2
    # The same key on the single start route is another request.
    single = await client.post(f"{API}/executions", json=_start(workflow_id, "a"), headers=keyed)
    assert (single.status_code, single.json()["error"]["code"]) == (422, "idempotency_key_reused")


async def test_an_expired_key_starts_again_and_a_bad_key_is_refused(
    app: FastAPI, client: Any, tenant: TenantFactory
) -> None:
    owner = await tenant()
    workflow_id = await make_workflow(app, owner.org_id)
    keyed = {**owner.headers, "Idempotency-Key": "nightly"}
    first = await client.post(f"{API}/executions", json=_start(workflow_id), headers=keyed)
    async with app.state.db.transaction() as session:
        await session.execute(update(StartKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    second = await client.post(f"{API}/executions", json=_start(workflow_id), headers=keyed)
    assert second.status_code == 201
    assert second.json()["id"] != first.json()["id"]
    async with app.state.db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(StartKey)) == 1  # the expired one is gone

    for bad in ("", "x" * 256, "tab\there"):
        response = await client.post(
            f"{API}/executions", json=_start(workflow_id), headers={**owner.headers, "Idempotency-Key": bad}
        )
        assert response.status_code == 422, bad
        assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert await _count(app, owner.org_id) == 2

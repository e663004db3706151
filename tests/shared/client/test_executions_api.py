"""`client.executions` against a real orchestrator: start with inputs and priority (queued, with
the API's waiting reason), list with filters, the journal page by page and as a stream,
transitions, artifacts and their bytes, cancel, retry with resume, and refusals."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi import FastAPI

from shared.client import ApiClient, ApiError, Execution
from tests.orchestrator._execution_helpers import flow, make_workflow
from tests.orchestrator.conftest import Member
from tests.shared.client._executions import failed_execution
from tests.shared.client.conftest import call


async def test_start_with_inputs_and_priority_is_queued_with_its_waiting_reason(
    api: ApiClient, app: FastAPI, owner: Member
) -> None:
    workflow_id = str(await make_workflow(app, owner.org_id, name="Invoices", document=flow("Invoices")))
    started = await call(api.executions.start, workflow_id, inputs={"customer": "ACME"}, priority="high")
    assert isinstance(started, Execution)
    assert (started.state, started.priority, started.version_number) == ("queued", "high", 1)
    assert started.inputs == {"customer": "ACME", "count": 3}  # defaults resolved by the server
    assert started.trigger.type == "manual"
    read = await call(api.executions.get, started.id)
    assert read.waiting_reason == "no agent of the organisation is online"

    again = await call(api.executions.start, workflow_id, inputs={"customer": "B"}, idempotency_key="k-1")
    assert (
        await call(api.executions.start, workflow_id, inputs={"customer": "B"}, idempotency_key="k-1")
    ).id == again.id

    with pytest.raises(ApiError) as caught:
        await call(api.executions.start, workflow_id, inputs={"count": 1})  # customer is required
    assert caught.value.status == 422
    assert "customer" in caught.value.message

    cancelled = await call(api.executions.cancel, started.id, reason="not today")
    assert cancelled.state == "cancelled"
    transitions = await call(api.executions.transitions, started.id)
    assert [t.to_state for t in transitions.items] == ["queued", "cancelled"]
    assert transitions.items[-1].reason == "not today"


async def test_list_executions_with_filters(api: ApiClient, app: FastAPI, owner: Member) -> None:
    invoices = str(await make_workflow(app, owner.org_id, name="Invoices", document=flow("Invoices")))
    payroll = str(await make_workflow(app, owner.org_id, name="Payroll", document=flow("Payroll")))
    first = await call(api.executions.start, invoices, inputs={"customer": "A"})
    await call(api.executions.start, payroll, inputs={"customer": "B"})
    await call(api.executions.cancel, first.id)

    assert (await call(api.executions.list)).total == 2
    assert [e.workflow_name for e in (await call(api.executions.list, workflow_id=payroll)).items] == ["Payroll"]
    assert [e.id for e in (await call(api.executions.list, states=["cancelled"])).items] == [first.id]
    assert [e.workflow_name for e in (await call(api.executions.list, q="Payr")).items] == ["Payroll"]
    assert (await call(api.executions.list, trigger="schedule")).total == 0
    page = await call(api.executions.list, limit=1)
    assert len(page.items) == 1
    assert page.next_cursor is not None
    rest = await call(api.executions.list, limit=1, cursor=page.next_cursor)
    assert [e.id for e in rest.items] != [e.id for e in page.items]


async def test_journal_artifacts_and_retry_of_a_failed_execution(api: ApiClient, app: FastAPI, owner: Member) -> None:
    workflow_id = await make_workflow(app, owner.org_id, name="Invoices", document=flow("Invoices"))
    execution_id = await failed_execution(app, owner.org_id, workflow_id)

    first = await call(api.executions.events, execution_id, limit=2)
    assert [(e.seq, e.type) for e in first.items] == [(1, "node.started"), (2, "log")]
    assert first.next_after_seq == 2
    rest = await call(api.executions.events, execution_id, after_seq=first.next_after_seq)
    assert [e.type for e in rest.items] == ["node.failed"]
    assert rest.next_after_seq is None

    streamed = await call(lambda: list(api.executions.stream(execution_id, follow=False)))
    assert [kind for kind, _ in streamed] == ["journal", "journal", "journal", "end"]
    assert streamed[2][1]["data"]["error"]["message"] == "waited too long"

    artifacts = await call(api.executions.artifacts, execution_id)
    assert [(a.name, a.size, a.content_type) for a in artifacts.items] == [("report.csv", 8, "text/csv")]
    assert await call(api.executions.artifact_bytes, execution_id, artifacts.items[0].id) == b"a,b\n1,2\n"
    await asyncio.sleep(0.2)  # the server closes the file after the last byte went out: let it, in this loop

    retried = await call(api.executions.retry, execution_id, resume=True)
    assert (retried.state, retried.parent_execution_id, retried.resume_from) == ("queued", execution_id, execution_id)
    assert retried.trigger.type == "retry"
    with pytest.raises(ApiError) as caught:
        await call(api.executions.retry, retried.id)  # not finished yet
    assert caught.value.status == 409
    with pytest.raises(ApiError) as caught:
        await call(api.executions.get, str(uuid.uuid4()))
    assert (caught.value.status, caught.value.code) == (404, "not_found")

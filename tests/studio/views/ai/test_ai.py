"""AI on the canvas against the in-process orchestrator and the Messages-API stand-in: a described
flow is shown as a diff and accepted as one undoable edit (or rejected, changing nothing); a failed
execution's diagnosis shows the explanation and applies its fix the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.models.executions import ExecutionEvent
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import get_execution
from shared.steps import StepRegistry
from studio.model import FlowDocument, diff_flows
from studio.views.ai import DescribeFlowDialog, DiagnoseDialog
from studio.views.canvas import FlowScene
from studio.views.versions import RemoteWorkflows
from tests.fakes.anthropic_server import FakeAnthropic, text
from tests.orchestrator._execution_helpers import SYSTEM, make_execution, make_workflow
from tests.orchestrator._vault_helpers import create as create_credential
from tests.studio.views.ai.conftest import KEY
from tests.studio.views.versions.conftest import VERSION_1, Published

pytestmark = pytest.mark.usefixtures("fast_hashing")


async def _with_key(published: Published) -> RemoteWorkflows:
    await create_credential(published.http, published.member.headers, "anthropic", "token", {"token": KEY})
    return RemoteWorkflows(published.client)


def _proposal() -> dict[str, Any]:
    flow = json.loads(json.dumps(VERSION_1))
    flow["nodes"][1]["params"]["value"] = 7
    flow["nodes"].append({"id": "report", "type": "core.log", "params": {"message": "done"}})
    flow["edges"].append({"from": "sum", "to": "report"})
    return flow


async def test_a_described_flow_is_a_diff_accepted_as_one_undoable_edit(
    qtbot: Any, published: Published, fake: FakeAnthropic, registry: StepRegistry, screenshots: Path
) -> None:
    server = await _with_key(published)
    document = FlowDocument(json.loads(json.dumps(VERSION_1)), registry=registry)
    scene = FlowScene(document)  # the designer's canvas follows the accepted edit
    before = document.to_text()
    fake.push(text(json.dumps(_proposal())))
    dialog = DescribeFlowDialog(document, server)
    qtbot.addWidget(dialog)
    assert dialog.change_current.isChecked()  # a flow with steps is changed, not replaced
    assert not dialog.accept_button.isEnabled()
    dialog.description.setPlainText("Report when the sum is done; fetch 7")
    assert await dialog.propose()
    sent = fake.requests[0]
    assert "Report when the sum is done" in sent.text()
    assert '"fetch"' in sent.text()  # the current flow went along
    view = dialog.diff_view
    assert view is not None
    assert (view.diff.ids("added"), view.diff.ids("changed")) == (("report",), ("fetch",))
    assert view.state_of("report") == "added"
    assert "1 added" in dialog.status.text()
    dialog.show()
    view.fit()
    assert dialog.grab().save(str(screenshots / "studio-ai-proposal.png"))
    dialog.accept_button.click()
    assert not diff_flows(_proposal(), document.raw).logic_changed
    assert set(scene.nodes) == {"start", "fetch", "old", "sum", "report"}
    assert document.undo_stack.undo_entry().label == "Replace flow"  # type: ignore[union-attr]
    assert document.undo()
    assert document.to_text() == before
    assert set(scene.nodes) == {"start", "fetch", "old", "sum"}
    scene.close()


async def test_a_rejected_proposal_changes_nothing(
    qtbot: Any, published: Published, fake: FakeAnthropic, registry: StepRegistry
) -> None:
    server = await _with_key(published)
    document = FlowDocument(json.loads(json.dumps(VERSION_1)), registry=registry)
    before = document.to_text()
    fake.push(text(json.dumps(_proposal())))
    dialog = DescribeFlowDialog(document, server)
    qtbot.addWidget(dialog)
    dialog.description.setPlainText("anything")
    assert await dialog.propose()
    dialog.reject_button.click()
    assert document.to_text() == before
    assert document.undo_stack.undo_entry() is None


async def test_without_an_ai_credential_the_reason_is_shown(
    qtbot: Any, published: Published, registry: StepRegistry
) -> None:
    dialog = DescribeFlowDialog(FlowDocument.new(registry=registry), RemoteWorkflows(published.client))
    qtbot.addWidget(dialog)
    assert not dialog.change_current.isChecked()  # an empty flow is replaced
    assert await dialog.propose() is False
    assert "Describe" in dialog.status.text()
    dialog.description.setPlainText("a flow")
    assert await dialog.propose() is False
    assert dialog.status.text()  # the API's own words
    assert not dialog.accept_button.isEnabled()


WAITER: dict[str, Any] = {
    "schema": "rpa.flow/1",
    "name": "Waiter",
    "nodes": [
        {"id": "hello", "type": "core.log", "params": {"message": "hi"}},
        {"id": "pause", "type": "core.wait", "params": {"seconds": 600}},
    ],
    "edges": [{"from": "hello", "to": "pause"}],
}


async def _failed_execution(published: Published, app: Any) -> str:
    org_id = published.member.org_id
    workflow_id = await make_workflow(app, org_id, document=WAITER, name="Waiter")
    execution_id = await make_execution(app, org_id, workflow_id, inputs={}, state=State.RUNNING)
    failed = {"attempt": 1, "will_retry": False, "error": {"message": "waited too long"}}
    async with app.state.db.transaction() as session:
        session.add(
            ExecutionEvent(
                execution_id=execution_id, seq=1, org_id=org_id, type="node.failed", path="pause", data=failed, ts=0.0
            )
        )
        execution = await get_execution(session, org_id, execution_id)
        execution.error = {"message": "waited too long", "node": "pause"}
        execution.last_seq = execution.stored_seq = 1
        await transition(session, execution, State.FAILED, reason="test", actor=SYSTEM)
    return str(execution_id)


async def test_diagnose_explains_and_applies_the_fix_to_the_flow_as_edited(
    qtbot: Any, published: Published, fake: FakeAnthropic, registry: StepRegistry, app: Any
) -> None:
    server = await _with_key(published)
    execution_id = await _failed_execution(published, app)
    document = FlowDocument(json.loads(json.dumps(WAITER)), registry=registry)
    document.execute("set_param", node="hello", name="message", value="edited since the run")
    patch = [{"op": "replace", "path": "/nodes/1/params/seconds", "value": 5}]
    fake.push(text(json.dumps({"explanation": "The wait is longer than the timeout.", "patch": patch})))
    dialog = DiagnoseDialog(document, server, execution_id)
    qtbot.addWidget(dialog)
    assert await dialog.diagnose()
    assert "The wait is longer than the timeout." in dialog.explanation.toPlainText()
    assert "pause" in dialog.explanation.toPlainText()
    assert dialog.diff_view is not None
    assert dialog.diff_view.diff.ids("changed") == ("pause",)  # the edit to `hello` is not undone
    assert dialog.diff_view.diff.nodes["pause"].params[0].after == 5
    dialog.accept_button.click()
    assert document.node("pause")["params"]["seconds"] == 5
    assert document.node("hello")["params"]["message"] == "edited since the run"
    assert document.undo()
    assert document.node("pause")["params"]["seconds"] == 600


async def test_a_fix_that_no_longer_applies_shows_the_fixed_version(
    qtbot: Any, published: Published, fake: FakeAnthropic, registry: StepRegistry, app: Any
) -> None:
    server = await _with_key(published)
    execution_id = await _failed_execution(published, app)
    moved_on = {**WAITER, "nodes": [WAITER["nodes"][0]], "edges": []}  # `pause` was deleted since
    document = FlowDocument(json.loads(json.dumps(moved_on)), registry=registry)
    patch = [{"op": "replace", "path": "/nodes/1/params/seconds", "value": 5}]
    fake.push(text(json.dumps({"explanation": "Too long.", "patch": patch})))
    dialog = DiagnoseDialog(document, server, execution_id)
    qtbot.addWidget(dialog)
    assert await dialog.diagnose()
    assert "do not apply to this flow as it is now" in dialog.status.text()
    assert dialog.diff_view is not None
    assert dialog.diff_view.diff.ids("added") == ("pause",)
    assert dialog.diff_view.titles == ("Current", "Version 1, fixed")

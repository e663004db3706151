"""The main window puts the orchestrator's docks together: signing in connects the executions
monitor, the dashboard and the credentials and agents panels; a workflow opened from the
orchestrator lists its versions; the Publish dialog lists the callers a publish would break; and
Diagnose on a failed execution opens its workflow's draft with the diagnosis dialog over it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import httpx
import pytest
from PySide6.QtWidgets import QWidget

from orchestrator.models.executions import ExecutionEvent
from orchestrator.services.execution_states import State, transition
from orchestrator.services.executions import get_execution
from studio.app import StudioWindow
from studio.remote import source_of
from studio.views.admin import AdminView
from studio.views.dashboard import DashboardView
from studio.views.monitor import MonitorDock
from studio.views.versions import BreakingChangesList, VersionsPanel
from tests.orchestrator._execution_helpers import SYSTEM, make_execution
from tests.orchestrator.conftest import Member
from tests.studio.views.remote.conftest import until

pytestmark = pytest.mark.gui

FLOW = {
    "schema": "rpa.flow/1",
    "name": "Invoices",
    "inputs": {"customer": {"type": "string", "default": "Ann"}},
    "nodes": [{"id": "hello", "type": "core.log", "params": {"message": "hi"}}],
    "edges": [],
}


def _dock(window: StudioWindow, title: str) -> QWidget:
    widget = window.dock_widgets[title].widget()
    assert widget is not None
    return widget


async def _workflow(live: httpx.AsyncClient, owner: Member, name: str, document: Mapping[str, object]) -> str:
    created = await live.post("/api/v1/workflows", json={"name": name, "document": document}, headers=owner.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _publish(live: httpx.AsyncClient, owner: Member, workflow_id: str, note: str) -> None:
    answer = await live.post(f"/api/v1/workflows/{workflow_id}/publish", json={"note": note}, headers=owner.headers)
    assert answer.status_code == 201, answer.text


async def test_signing_in_connects_the_monitor_the_dashboard_and_the_admin_panels(
    window: StudioWindow, signed_in: StudioWindow
) -> None:
    monitor = _dock(window, "Executions")
    assert isinstance(monitor, MonitorDock)
    assert monitor.monitor.isVisibleTo(monitor)  # made again for the signed-in orchestrator
    assert monitor.monitor.source is not None
    dashboard = _dock(window, "Dashboard")
    assert isinstance(dashboard, DashboardView)
    assert dashboard.api is not None
    admin = _dock(window, "Credentials and agents")
    assert isinstance(admin, AdminView)
    assert admin.credentials.api is not None

    await window.remote.sign_out()
    signed_out = _dock(window, "Executions")
    assert isinstance(signed_out, MonitorDock)
    assert signed_out is not monitor
    assert not signed_out.monitor.isVisibleTo(signed_out)
    assert window.api_client is None


async def test_an_opened_workflow_lists_its_versions_and_publish_lists_the_callers_it_breaks(
    signed_in: StudioWindow, live: httpx.AsyncClient, owner: Member
) -> None:
    window = signed_in
    workflow_id = await _workflow(live, owner, "Invoices", FLOW)
    await _publish(live, owner, workflow_id, "first")
    await _publish(live, owner, workflow_id, "second")
    caller = {
        "schema": "rpa.flow/1",
        "name": "Month end",
        "nodes": [{"id": "call", "type": "flow.call", "params": {"flow": "Invoices", "inputs": {"customer": "Bo"}}}],
        "edges": [],
    }
    await _workflow(live, owner, "Month end", caller)
    draft = {**FLOW, "inputs": {}}  # the input the caller passes is gone: a breaking change
    patched = await live.patch(f"/api/v1/workflows/{workflow_id}", json={"document": draft}, headers=owner.headers)
    assert patched.status_code == 200, patched.text

    assert await window.remote.open_workflow(workflow_id)
    versions = _dock(window, "Versions")
    assert isinstance(versions, VersionsPanel)
    await until(lambda: versions.table.rowCount() >= 2)
    notes = {versions.table.item(row, 1).text() for row in range(versions.table.rowCount())}  # type: ignore[union-attr]
    assert {"first", "second"} <= notes

    dialog = window.remote.open_publish()
    assert dialog is not None
    assert isinstance(dialog.breaking, BreakingChangesList)
    assert dialog.loading is not None
    await dialog.loading
    assert dialog.breaking.breaking
    dialog.reject()


async def test_diagnose_on_a_failed_execution_opens_its_draft_with_the_diagnosis(
    signed_in: StudioWindow, live: httpx.AsyncClient, owner: Member, app: object
) -> None:
    window = signed_in
    workflow_id = await _workflow(live, owner, "Invoices", FLOW)
    await _publish(live, owner, workflow_id, "first")
    execution_id = await make_execution(app, owner.org_id, uuid.UUID(workflow_id), inputs={}, state=State.RUNNING)  # type: ignore[arg-type]
    async with app.state.db.transaction() as session:  # type: ignore[attr-defined]
        session.add(
            ExecutionEvent(
                execution_id=execution_id,
                seq=1,
                org_id=owner.org_id,
                type="node.failed",
                path="hello",
                data={"attempt": 1, "will_retry": False, "error": {"message": "no"}},
                ts=0.0,
            )
        )
        execution = await get_execution(session, owner.org_id, execution_id)
        execution.error = {"message": "no", "node": "hello"}
        execution.last_seq = execution.stored_seq = 1
        await transition(session, execution, State.FAILED, reason="test", actor=SYSTEM)

    dialog = await window.remote.diagnose(str(execution_id), workflow_id)
    source = source_of(window.document)
    assert source is not None
    assert source.workflow_id == workflow_id
    assert source.version is None  # the draft, where a fix can be applied
    assert dialog is not None
    assert dialog.isVisible()
    text = dialog.status.text()
    assert text  # no AI credential in this organisation: the API's reason, in its words
    assert text != "Asking why it failed…"

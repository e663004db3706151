"""Flows kept on a real orchestrator, from the studio window: open the draft, edit, save; a stale
revision is refused in a clear message with the edits kept; publish (refused with the problems in
the Problems panel and on the canvas); open a version read-only; clone; export and import round
trip; start an execution with inputs and a priority and see it queued with its waiting reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from studio.app import StudioWindow
from studio.model import CommandError
from studio.remote import source_of
from studio.views.panels import ProblemsPanel
from tests.orchestrator.conftest import Member
from tests.studio.views.remote.conftest import until

pytestmark = pytest.mark.gui
API = "/api/v1"


def flow(name: str) -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "inputs": {"customer": {"type": "string", "required": True}},
        "nodes": [{"id": "wait", "type": "core.wait", "params": {"seconds": 0}}],
    }


async def published(live: httpx.AsyncClient, owner: Member, name: str) -> str:
    created = await live.post(f"{API}/workflows", json={"name": name, "document": flow(name)}, headers=owner.headers)
    workflow_id = str(created.json()["id"])
    assert (await live.post(f"{API}/workflows/{workflow_id}/publish", headers=owner.headers)).status_code == 201
    return workflow_id


async def draft_seconds(live: httpx.AsyncClient, owner: Member, workflow_id: str) -> Any:
    return (await live.get(f"{API}/workflows/{workflow_id}", headers=owner.headers)).json()["draft"]["nodes"][0][
        "params"
    ]["seconds"]


async def test_open_edit_save_stale_publish_and_versions(
    signed_in: StudioWindow, live: httpx.AsyncClient, owner: Member
) -> None:
    window, remote = signed_in, signed_in.remote
    workflow_id = await published(live, owner, "Invoices")

    assert await remote.open_workflow(workflow_id)
    document = window.document
    assert source_of(document) is not None
    assert window.windowTitle().startswith("Invoices (draft, revision 1)")
    document.execute("set_param", node="wait", name="seconds", value=2)
    window.actions_by_key["save"].trigger()  # Ctrl+S: a draft from the orchestrator saves there
    await until(lambda: not document.dirty)
    assert await draft_seconds(live, owner, workflow_id) == 2

    # Someone else saves meanwhile: my next save is refused, my edit stays.
    current = (await live.get(f"{API}/workflows/{workflow_id}", headers=owner.headers)).json()
    theirs = dict(current["draft"], nodes=[{"id": "wait", "type": "core.wait", "params": {"seconds": 3}}])
    changed = await live.patch(
        f"{API}/workflows/{workflow_id}",
        json={"document": theirs},
        headers={**owner.headers, "If-Match": current["etag"]},
    )
    assert changed.status_code == 200
    document.execute("set_param", node="wait", name="seconds", value=4)
    assert await remote.save() is False
    assert remote.last_message is not None
    assert remote.last_message.windowTitle() == "The workflow changed on the orchestrator"
    assert "changed since you read it" in remote.last_message.text()
    assert "Your edits are still here" in remote.last_message.text()
    assert document.dirty
    assert document.node("wait")["params"]["seconds"] == 4
    assert await draft_seconds(live, owner, workflow_id) == 3

    document.undo_stack.mark_clean()
    assert await remote.open_workflow(workflow_id)  # read again
    document = window.document
    document.execute("set_param", node="wait", name="seconds", value="soon")
    assert await remote.publish("try") is None
    assert remote.last_message is not None
    assert "cannot be published" in remote.last_message.text()
    problems = window.dock_widgets["Problems"].widget()
    assert isinstance(problems, ProblemsPanel)
    assert any(node == "wait" for _, _, _, node in problems.rows())
    remote.show_server_problems([{"path": "$.nodes[0].params.seconds", "message": "the server says no", "code": "x"}])
    assert ("error", "x", "the server says no", "wait") in problems.rows()
    assert window.canvas is not None
    assert window.canvas.flow_scene.nodes["wait"].problems >= 2

    document.execute("set_param", node="wait", name="seconds", value=5)
    version = await remote.publish("five seconds")
    assert version is not None
    assert (version.number, version.note) == (2, "five seconds")
    assert not document.dirty

    assert await remote.open_version(workflow_id, 1)
    old = window.document
    assert old.read_only is not None
    assert "read-only" in window.windowTitle()
    assert old.node("wait")["params"]["seconds"] == 0
    with pytest.raises(CommandError, match="read-only"):
        old.execute("set_param", node="wait", name="seconds", value=9)
    assert await remote.save() is False
    assert "cannot be saved" in remote.last_message.text()  # type: ignore[union-attr]

    assert await remote.clone("Invoices v1 copy")  # the version open: its copy
    clone = window.document
    assert source_of(clone).name == "Invoices v1 copy"  # type: ignore[union-attr]
    assert clone.read_only is None
    assert clone.node("wait")["params"]["seconds"] == 0


async def test_export_import_round_trip_and_start_an_execution(
    signed_in: StudioWindow, live: httpx.AsyncClient, owner: Member, tmp_path: Path
) -> None:
    window, remote = signed_in, signed_in.remote
    workflow_id = await published(live, owner, "Invoices")
    assert await remote.open_workflow(workflow_id)

    exported = await remote.export_to(tmp_path / "invoices.bundle.json")
    assert exported is not None
    bundle = json.loads(exported.read_text(encoding="utf-8"))
    assert (bundle["bundle"], [w["name"] for w in bundle["workflows"]]) == ("rpa.bundle/1", ["Invoices"])
    imported = await remote.import_from(exported)
    assert len(imported) == 1
    assert imported[0].name != "Invoices"  # renamed: the name is in use
    assert source_of(window.document).workflow_id == imported[0].id  # type: ignore[union-attr]
    assert window.document.to_flow().nodes[0].id == "wait"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert await remote.import_from(broken) == []
    assert str(broken) in remote.last_message.text()  # type: ignore[union-attr]

    assert await remote.open_workflow(workflow_id)
    dialog = await remote.open_start()
    assert dialog is not None
    assert list(dialog.form.fields) == ["customer"]
    assert await dialog.start() is None  # the required input is empty: nothing starts
    assert dialog.form.fields["customer"].error.text()
    dialog.form.fields["customer"].widget.setText("ACME")  # type: ignore[attr-defined]
    dialog.priority.setCurrentIndex(dialog.priority.findData("high"))
    execution = await dialog.start()
    assert execution is not None
    assert (execution.state, execution.priority, execution.inputs) == ("queued", "high", {"customer": "ACME"})
    assert execution.waiting_reason == "no agent of the organisation is online"
    assert dialog.status.text() == (f"Execution {execution.id}: queued (high) — no agent of the organisation is online")
    listed = (await live.get(f"{API}/executions", headers=owner.headers)).json()
    assert [e["id"] for e in listed["items"]] == [execution.id]

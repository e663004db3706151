"""The breaking-changes list the Publish dialog shows, against a real orchestrator."""

from __future__ import annotations

from typing import Any

import pytest

from studio.views.versions import BreakingChangesList, RemoteWorkflows
from tests.studio.views.versions.conftest import Published, version_2

pytestmark = pytest.mark.usefixtures("fast_hashing")


async def test_the_list_names_each_caller_and_what_breaks_it(qtbot: Any, published: Published) -> None:
    http, headers = published.http, published.member.headers
    caller = {
        "schema": "rpa.flow/1",
        "name": "Month end",
        "nodes": [
            {"id": "run", "type": "flow.call", "params": {"flow": "Invoices", "inputs": {"month": "2026-12"}}},
            {"id": "show", "type": "core.log", "params": {"message": "{{ steps.run.output.total }}"}},
        ],
        "edges": [{"from": "run", "to": "show"}],
    }
    created = await http.post("/api/v1/workflows", json={"name": "Month end", "document": caller}, headers=headers)
    assert created.status_code == 201
    server = RemoteWorkflows(published.client)
    widget = BreakingChangesList()
    qtbot.addWidget(widget)
    assert await widget.load(server, published.workflow_id)
    assert not widget.breaking
    assert widget.summary.text() == "No caller breaks (1 workflow calls it)."
    assert widget.lines() == [("Month end", "", "fine")]

    draft = version_2()
    draft["inputs"]["month"]["type"] = "integer"
    del draft["outputs"]["total"]
    patched = await http.patch(f"/api/v1/workflows/{published.workflow_id}", json={"document": draft}, headers=headers)
    assert patched.status_code == 200
    assert await widget.load(server, published.workflow_id)
    assert widget.breaking
    assert "breaks 1 of the 1 workflow" in widget.summary.text()
    assert widget.lines() == [
        ("Month end", "", "2 problem(s)"),
        ("", "draft, node run", "input 'month' changed type from string to integer"),
        ("", "draft, node run", "output 'total' was removed"),
    ]


async def test_a_refusal_is_shown(qtbot: Any, published: Published) -> None:
    widget = BreakingChangesList()
    qtbot.addWidget(widget)
    assert not await widget.load(RemoteWorkflows(published.client), "00000000-0000-0000-0000-000000000000")
    assert widget.summary.text().startswith("Could not check the callers: no workflow")

"""The Versions dock against a real orchestrator: the list, the diff of two versions on the canvas
(agreeing with the server's own diff), and a rollback that reloads the draft and undoes."""

from __future__ import annotations

import asyncio
import copy
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QGraphicsItem

from shared.steps import StepRegistry
from studio.model import FlowDocument, diff_flows
from studio.views.versions import DRAFT, GHOST_OPACITY, DiffView, RemoteWorkflows, VersionsPanel, versions_dock
from tests.studio.views.versions.conftest import VERSION_1, Published, version_2

pytestmark = pytest.mark.usefixtures("fast_hashing")


def _panel(qtbot: Any, published: Published, registry: StepRegistry) -> VersionsPanel:
    document = FlowDocument(version_2(), registry=registry)
    panel = VersionsPanel(document)
    qtbot.addWidget(panel)
    panel.attach(RemoteWorkflows(published.client), published.workflow_id)
    return panel


def _rows(panel: VersionsPanel) -> list[list[str]]:
    table = panel.table
    return [[table.item(r, c).text() for c in range(3)] for r in range(table.rowCount())]


async def test_the_list_shows_number_note_and_who(qtbot: Any, published: Published, registry: StepRegistry) -> None:
    panel = _panel(qtbot, published, registry)
    assert not panel.compare_button.isEnabled()
    assert await panel.refresh()
    user = await published.http.get(f"/api/v1/users/{published.member.user_id}", headers=published.member.headers)
    who = user.json()["name"] or user.json()["email"]
    assert _rows(panel) == [
        ["Draft", "(being edited)", ""],
        ["2", "adds the e-mail", who],
        ["1", "first cut", who],
    ]
    assert all(panel.table.item(r, 3).text()[:2] == "20" for r in (1, 2))  # a date
    panel.select(1)
    assert panel.compare_button.isEnabled()
    assert panel.rollback_button.isEnabled()
    panel.select(DRAFT)
    assert not panel.compare_button.isEnabled()
    assert not panel.rollback_button.isEnabled()


async def test_the_diff_of_two_versions_agrees_with_the_server(
    qtbot: Any, published: Published, registry: StepRegistry, screenshots: Path
) -> None:
    panel = _panel(qtbot, published, registry)
    assert await panel.refresh()
    panel.select(2, 1)
    assert panel.selected_refs() == [1, 2]
    view = await panel.compare()
    assert isinstance(view, DiffView)
    assert panel.diff_window is not None
    assert panel.diff_window.isVisible()
    server = await asyncio.to_thread(RemoteWorkflows(published.client).diff_versions, published.workflow_id, 1, 2)
    assert set(view.diff.ids("added")) == set(server["nodes"]["added"]) == {"mail"}
    assert set(view.diff.ids("removed")) == set(server["nodes"]["removed"]) == {"old"}
    assert {c["id"] for c in server["nodes"]["changed"]} == {"fetch", "sum"}
    assert (view.diff.ids("changed"), view.diff.ids("moved")) == (("fetch",), ("sum",))
    # Colours: by status; the removed node is a faded ghost where it was; nothing can be dragged.
    assert {n: view.state_of(n) for n in ("start", "fetch", "old", "sum", "mail")} == {
        "start": None,
        "fetch": "changed",
        "old": "removed",
        "sum": "moved",
        "mail": "added",
    }
    ghost = view.scene.nodes["old"]
    assert ghost.opacity() == GHOST_OPACITY
    assert (ghost.pos().x(), ghost.pos().y()) == (240, 120)
    assert not ghost.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsMovable
    assert set(view.former_places) == {"sum"}  # a dashed outline where the moved node was
    assert (view.former_places["sum"].pos().x(), view.former_places["sum"].pos().y()) == (0, 240)
    assert (view.scene.nodes["sum"].pos().x(), view.scene.nodes["sum"].pos().y()) == (300, 300)
    # Clicking a change selects the node and shows its params side by side.
    group = view.changes.tree.topLevelItem(2)
    assert group.text(0) == "Changed (1)"
    view.changes.tree.itemClicked.emit(group.child(0), 0)
    assert view.document.selection.ids == {"fetch"}
    assert view.changes.rows() == [("params.value", "1", "42")]
    view.show_node("old")
    assert view.changes.rows() == [("type", "core.log", ""), ("params.message", "going away", "")]
    panel.diff_window.resize(1000, 600)
    view.fit()
    assert view.grab().save(str(screenshots / "studio-versions-diff.png"))


async def test_a_version_against_the_unsaved_draft(qtbot: Any, published: Published, registry: StepRegistry) -> None:
    panel = _panel(qtbot, published, registry)
    assert await panel.refresh()
    panel.document.execute("set_param", node="mail", name="message", value="edited here")
    panel.select(2)
    view = await panel.compare()
    assert view is not None
    assert view.titles == ("Version 2", "Draft")
    assert view.diff.ids("changed") == ("mail",)


async def test_roll_back_asks_then_publishes_and_reloads_the_draft(
    qtbot: Any, published: Published, registry: StepRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = _panel(qtbot, published, registry)
    assert await panel.refresh()
    before = panel.document.to_text()
    panel.select(1)
    monkeypatch.setattr(panel, "confirm_rollback", lambda number: False)
    assert await panel.roll_back() is False
    assert panel.table.rowCount() == 3
    assert panel.document.to_text() == before
    asked: list[int] = []
    monkeypatch.setattr(panel, "confirm_rollback", lambda number: asked.append(number) or True)
    assert await panel.roll_back() is True
    assert asked == [1]
    assert [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())] == ["Draft", "3", "2", "1"]
    assert panel.table.item(1, 1).text() == "Rolled back to version 1"
    assert diff_flows(VERSION_1, panel.document.raw).ids("removed") == ()
    assert not diff_flows(VERSION_1, panel.document.raw).logic_changed
    assert "version 3" in panel.status.text()
    # One undo brings the designer's draft back.
    assert panel.document.undo()
    assert panel.document.to_text() == before


async def test_a_refused_call_is_shown_not_raised(qtbot: Any, published: Published, registry: StepRegistry) -> None:
    panel = _panel(qtbot, published, registry)
    panel.attach(RemoteWorkflows(published.client), "00000000-0000-0000-0000-000000000000")
    assert await panel.refresh() is False
    assert "no workflow" in panel.status.text()


def test_a_diff_view_of_nested_changes_colours_inside_containers(qtbot: Any, registry: StepRegistry) -> None:
    before = copy.deepcopy(VERSION_1)
    before["nodes"].append(
        {
            "id": "each",
            "type": "control.foreach",
            "params": {"items": [1]},
            "body": {"nodes": [{"id": "inner", "type": "core.noop", "params": {"value": 1}}], "edges": []},
            "ui": {"x": 500, "y": 0},
        }
    )
    after = copy.deepcopy(before)
    after["nodes"][-1]["body"]["nodes"][0]["params"]["value"] = 2
    after["nodes"][-1]["body"]["nodes"].append({"id": "extra", "type": "core.noop"})
    view = DiffView(before, after, registry=registry)
    qtbot.addWidget(view)
    assert view.state_of("inner") == "changed"
    assert view.state_of("extra") == "added"
    assert view.state_of("each") is None
    assert view.diff.nodes["inner"].path == ("each",)


def test_the_dock_joins_the_window_from_its_dock_table_line(qtbot: Any, tmp_path: Path) -> None:
    from studio.app import StudioWindow
    from studio.app._docks import DockSpec

    spec = DockSpec("Versions", "studio.views.versions:versions_dock", "right", tab_with="Properties")
    window = StudioWindow(config=tmp_path / "config", autosave_s=3600, templates=[], docks=[spec])
    qtbot.addWidget(window)
    panel = window.dock_widgets["Versions"].widget()
    assert isinstance(panel, VersionsPanel)
    assert panel.document is window.document
    assert panel.server is None  # a file, not an orchestrator workflow: nothing to list
    assert not panel.compare_button.isEnabled()


async def test_a_window_that_knows_the_workflow_attaches_the_panel(
    qtbot: Any, published: Published, registry: StepRegistry
) -> None:
    document = FlowDocument(version_2(), registry=registry)
    server = RemoteWorkflows(published.client)

    class Window:
        def remote_workflow(self, doc: FlowDocument) -> tuple[RemoteWorkflows, str] | None:
            return (server, published.workflow_id) if doc is document else None

    panel = versions_dock(document, Window())
    qtbot.addWidget(panel)
    assert panel.loading is not None
    assert await panel.loading
    assert panel.table.rowCount() == 3


async def test_the_flows_files_are_listed_from_the_servers_diff(
    qtbot: Any, published: Published, registry: StepRegistry
) -> None:
    parts = [("files", ("data/rates.csv", b"currency,rate\nEUR,1\n", "text/csv"))]
    uploaded = await published.http.post(
        f"/api/v1/workflows/{published.workflow_id}/assets", files=parts, headers=published.member.headers
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    panel = _panel(qtbot, published, registry)
    assert await panel.refresh()
    panel.select(2)
    view = await panel.compare()
    assert view is not None
    tree = view.changes.tree
    groups = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())}
    assert list(groups) == ["Files"]  # the flow itself is the same
    assert groups["Files"].child(0).text(0) == "data/rates.csv (added)"


async def test_a_slow_server_does_not_hold_the_event_loop(qtbot: Any, registry: StepRegistry) -> None:
    release = threading.Event()

    class SlowServer:
        """Answers only when the test lets it (a server taking its time)."""

        def list_versions(self, workflow_id: str) -> list[dict[str, Any]]:
            release.wait(10)
            return []

        def user_name(self, user_id: str | None) -> str:
            return "—"

    panel = VersionsPanel(FlowDocument(version_2(), registry=registry))
    qtbot.addWidget(panel)
    panel.attach(SlowServer(), "wf")  # type: ignore[arg-type]
    listing = asyncio.ensure_future(panel.refresh())
    await asyncio.sleep(0.05)  # a call made on the loop would hold it here until the server answered
    assert not listing.done()
    release.set()
    assert await listing
    assert panel.status.text() == "0 published versions"

"""The palette lists the catalogue and creates nodes; the outline nests them and centres the canvas."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from studio.model import FlowDocument
from studio.model._layout import position
from studio.views.canvas import STEP_MIME, FlowView
from studio.views.outline import Outline
from studio.views.palette import Palette
from tests.studio.flows import sample_document

pytestmark = pytest.mark.gui


def test_the_palette_lists_every_step_of_the_registry_by_family(qtbot: QtBot) -> None:
    document = FlowDocument.new()
    palette = Palette(document)
    qtbot.addWidget(palette)
    assert sorted(palette.steps()) == sorted(d.name for d in document.registry)
    assert {"control.foreach", "control.try", "flow.call", "browser.click"} <= set(palette.steps())
    entry = palette.entry("browser.click")
    assert entry is not None
    assert entry.parent().text(0) == "browser"
    assert document.registry.get("browser.click").summary in entry.toolTip(0)


def test_the_palette_search_matches_names_and_summaries(qtbot: QtBot) -> None:
    palette = Palette(FlowDocument.new())
    qtbot.addWidget(palette)
    qtbot.keyClicks(palette.search, "foreach")
    assert set(palette.steps()) == {"control.foreach", "control.parallel_foreach"}
    palette.search.clear()
    palette.filter("pdf text")
    shown = palette.steps()
    assert shown
    assert all("pdf" in f"{s} {palette.entry(s).toolTip(0)}".lower() for s in shown)  # type: ignore[union-attr]


def test_a_palette_drag_drops_on_the_canvas_as_a_node(qtbot: QtBot) -> None:
    document = FlowDocument.new()
    palette, canvas = Palette(document), FlowView(document)
    qtbot.addWidget(palette)
    qtbot.addWidget(canvas)
    entry = palette.entry("control.foreach")
    assert entry is not None
    data = palette.tree.mimeData([entry])
    assert bytes(data.data(STEP_MIME).data()) == b"control.foreach"
    point = QPointF(canvas.viewport().rect().center())
    canvas.dropEvent(
        QDropEvent(point, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    )
    [node_id] = document.index.nodes
    assert document.node(node_id)["type"] == "control.foreach"
    assert "each.body" in canvas.flow_scene.bodies or f"{node_id}.body" in canvas.flow_scene.bodies


def test_double_click_inserts_after_the_selected_node_wired_from_it(qtbot: QtBot) -> None:
    document = FlowDocument.new()
    document.execute("add_node", type="core.log", id="first", params={"message": "x"}, x=100, y=50)
    document.selection.select(["first"])
    palette = Palette(document)
    qtbot.addWidget(palette)
    entry = palette.entry("core.noop")
    assert entry is not None
    palette.tree.itemActivated.emit(entry, 0)
    new = next(i for i in document.index.nodes if i != "first")
    assert document.node(new)["type"] == "core.noop"
    assert {"from": "first", "to": new} in document.raw["edges"]
    assert position(document.node(new))[1] > 50
    assert document.selection.ids == {new}


def test_the_outline_nests_nodes_by_container_and_a_click_centres_them(qtbot: QtBot) -> None:
    document = sample_document(16)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    outline = Outline(document, canvas.centre_on_node)
    qtbot.addWidget(outline)
    each = outline.items["each"]
    assert each.child(0).text(0) == "body"
    assert [each.child(0).child(n).text(0) for n in range(each.child(0).childCount())] == [
        "fill",
        "click",
        "read",
        "fill_2",
    ]
    target = outline.items["report"]
    outline.setCurrentItem(target)
    outline.itemClicked.emit(target, 0)
    assert document.selection.ids == {"report"}
    visible = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    assert visible.contains(canvas.flow_scene.nodes["report"].sceneBoundingRect().center())
    document.execute("remove_nodes", ids=["report"])
    assert "report" not in outline.items
    document.undo()
    assert "report" in outline.items

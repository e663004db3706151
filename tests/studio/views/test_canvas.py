"""The canvas follows the document and sends every edit through it (pytest-qt, offscreen)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent, QGuiApplication, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.model import DebuggerNode, FlowDocument, LiveValidation
from studio.model._layout import position
from studio.views.canvas import STEP_MIME, ContainerItem, EdgeItem, FlowView, Minimap, NodeItem
from tests.studio.flows import sample_document

pytestmark = pytest.mark.gui


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[FlowView]:
    document = FlowDocument.new("canvas")
    run = document.execute
    run("add_node", type="core.log", id="a", params={"message": "a"}, x=0, y=0)
    run("add_node", type="core.log", id="b", params={"message": "b"}, x=0, y=200)
    run("add_node", type="core.log", id="c", params={"message": "c"}, x=400, y=200)
    run("connect", source="a", target="b")
    document.seal()
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    canvas.resize(900, 700)
    canvas.show()
    canvas.reset_zoom()
    canvas.centerOn(300, 150)
    yield canvas
    canvas.close_scene()


def _mouse(view: FlowView, kind: QEvent.Type, scene_point: QPointF, buttons: Qt.MouseButton) -> None:
    local = QPointF(view.mapFromScene(scene_point))
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    where = view.viewport().mapToGlobal(local)
    event = QMouseEvent(kind, local, where, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def _drag(view: FlowView, start: QPointF, end: QPointF) -> None:
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, start, left)
    for step in range(1, 6):
        _mouse(view, QEvent.Type.MouseMove, start + (end - start) * step / 5, left)
    _mouse(view, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def _centre(item: NodeItem) -> QPointF:
    return item.mapToScene(QPointF(item.width / 2, item.height / 2))


def test_a_step_dropped_from_the_palette_becomes_a_node_where_it_was_dropped(view: FlowView) -> None:
    data = QMimeData()
    data.setData(STEP_MIME, b"browser.click")
    drop_at = QPointF(600, 450)
    event = QDropEvent(
        QPointF(view.mapFromScene(drop_at)),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    view.dropEvent(event)
    assert "click" in view.document.index
    assert view.document.node("click")["type"] == "browser.click"
    item = view.flow_scene.nodes["click"]
    assert abs(_centre(item).x() - drop_at.x()) <= 1
    assert abs(_centre(item).y() - drop_at.y()) <= 1
    assert view.document.selection.ids == {"click"}
    view.document.undo()
    assert "click" not in view.flow_scene.nodes


def test_a_drop_inside_a_container_lands_in_its_body(qtbot: QtBot) -> None:
    document = sample_document(16)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    body = canvas.flow_scene.bodies["guard.finally"]
    node_id = canvas.add_step("core.log", body.mapToScene(body.boundingRect().center()))
    assert node_id is not None
    assert document.index.nodes[node_id].graph_label == "guard.finally"
    assert canvas.flow_scene.nodes[node_id].parentItem() is body


def test_dragging_from_a_port_to_a_node_wires_an_edge(view: FlowView) -> None:
    port = view.flow_scene.nodes["b"].ports["out"]
    _drag(view, port.scenePos(), _centre(view.flow_scene.nodes["c"]))
    edges = view.document.raw["edges"]
    assert {"from": "b", "to": "c"} in edges
    assert any(e.source.node_id == "b" and e.target.node_id == "c" for e in view.flow_scene.edges["$"])


def test_a_refused_wire_says_why_in_the_status_message(view: FlowView, qtbot: QtBot) -> None:
    port = view.flow_scene.nodes["b"].ports["out"]
    with qtbot.waitSignal(view.message, timeout=1000) as signal:
        _drag(view, port.scenePos(), _centre(view.flow_scene.nodes["a"]))
    assert "cycle" in signal.args[0]
    assert {"from": "b", "to": "a"} not in view.document.raw["edges"]


def test_a_drag_moves_the_node_in_one_undo_step_and_undo_puts_it_back(view: FlowView) -> None:
    item = view.flow_scene.nodes["c"]
    start = _centre(item)
    _drag(view, start, start + QPointF(100, 50))
    assert position(view.document.node("c")) == (500.0, 250.0)
    assert item.pos() == QPointF(500, 250)
    edge = next(e for e in view.flow_scene.edges["$"] if e.source.node_id == "a")
    before = edge.path().boundingRect()
    view.document.undo()
    assert position(view.document.node("c")) == (400.0, 200.0)
    assert item.pos() == QPointF(400, 200)
    assert edge.path().boundingRect() == before
    view.document.redo()
    assert item.pos() == QPointF(500, 250)


def test_delete_removes_nodes_and_their_edges_and_undo_brings_them_back(view: FlowView) -> None:
    view.document.selection.select(["a"])
    view.delete_selection()
    assert "a" not in view.flow_scene.nodes
    assert view.flow_scene.edges["$"] == []
    assert view.flow_scene.nodes["b"].edges == []
    view.document.undo()
    assert "a" in view.flow_scene.nodes
    [edge] = view.flow_scene.edges["$"]
    assert (edge.source.node_id, edge.target.node_id) == ("a", "b")


def test_a_selected_edge_is_deleted_with_the_delete_key(view: FlowView, qtbot: QtBot) -> None:
    [edge] = view.flow_scene.edges["$"]
    edge.setSelected(True)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert view.document.raw["edges"] == []


def test_copy_and_paste_carries_nodes_between_two_documents(view: FlowView, qtbot: QtBot) -> None:
    other = FlowView(FlowDocument.new("other"))
    qtbot.addWidget(other)
    view.document.selection.select(["a", "b"])
    assert view.copy_selection()
    assert '"rpa.clipboard"' in QGuiApplication.clipboard().text()
    pasted = other.paste()
    assert sorted(pasted) == ["a", "b"]
    assert set(other.flow_scene.nodes) == {"a", "b"}
    assert len(other.flow_scene.edges["$"]) == 1
    assert other.document.selection.ids == {"a", "b"}
    again = view.paste()  # into the flow they came from: fresh ids
    assert len(again) == 2
    assert not set(again) & {"a", "b"}


def test_duplicate_and_disable(view: FlowView) -> None:
    view.document.selection.select(["c"])
    [copy] = view.duplicate()
    assert copy in view.flow_scene.nodes
    assert copy != "c"
    view.toggle_disabled()
    assert view.document.node(copy).get("disabled") is True
    assert view.flow_scene.nodes[copy].disabled
    assert view.flow_scene.nodes[copy].opacity() < 1


def test_a_rubber_band_selects_the_nodes_it_covers(view: FlowView) -> None:
    _drag(view, QPointF(-60, 150), QPointF(700, 320))
    assert view.document.selection.ids == {"b", "c"}
    view.document.selection.select(["a"])
    assert [i.node_id for i in view.flow_scene.selectedItems() if isinstance(i, NodeItem)] == ["a"]


def test_a_collapsed_container_hides_its_body_and_builds_it_only_when_expanded(qtbot: QtBot) -> None:
    document = sample_document(16)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    scene = canvas.flow_scene
    assert "fill" in scene.nodes
    assert "each.body" in scene.bodies
    document.execute("collapse", node="each", collapsed=True)
    container = scene.nodes["each"]
    assert isinstance(container, ContainerItem)
    assert container.collapsed
    assert container.hidden_count == 4
    assert "fill" not in scene.nodes
    assert "each.body" not in scene.bodies
    assert not [i for i in scene.items() if isinstance(i, NodeItem) and i.node_id == "fill"]
    assert [(e.source.node_id, e.target.node_id) for e in container.edges] == [("open", "each"), ("each", "check")]
    document.execute("add_node", type="core.log", id="late", graph="each.body")
    assert "late" not in scene.nodes
    assert container.hidden_count == 5
    document.execute("collapse", node="each", collapsed=False)
    assert {"fill", "late"} <= set(scene.nodes)
    assert len(scene.edges["each.body"]) == 3


def test_moving_a_node_inside_a_body_grows_its_container(qtbot: QtBot) -> None:
    document = sample_document(16)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    container = canvas.flow_scene.nodes["guard"]
    height = container.height
    document.execute("move_nodes", positions={"post": [0, 300]})
    assert container.height > height + 250
    document.undo()
    assert container.height == height


def test_zoom_steps_reset_and_fit(view: FlowView, qtbot: QtBot) -> None:
    view.zoom_in()
    assert view.zoom == pytest.approx(1.25)
    view.zoom_out()
    view.zoom_out()
    assert view.zoom == pytest.approx(0.8)
    view.reset_zoom()
    assert view.zoom == pytest.approx(1.0)
    wheel = QWheelEvent(
        QPointF(100, 100),
        QPointF(view.viewport().mapToGlobal(QPoint(100, 100))),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom == pytest.approx(1.25**2)
    for number in range(40):
        view.document.execute("add_node", type="core.log", x=number * 300, y=3000)
    view.fit()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(view.flow_scene.itemsBoundingRect())
    assert view.zoom < 0.5


def test_problems_and_the_debuggers_states_show_on_the_nodes(view: FlowView) -> None:
    document = view.document
    document.execute("set_param", node="c", name="message", delete=True)
    live = LiveValidation(document)
    live.run()
    assert view.flow_scene.nodes["c"].problems >= 1
    assert view.flow_scene.nodes["a"].problems == 0
    document.events.emit(DebuggerNode("started", "a", "a"))
    assert view.flow_scene.nodes["a"].run_state == "running"
    document.events.emit(DebuggerNode("finished", "a", "a", "failed"))
    assert view.flow_scene.nodes["a"].run_state == "failed"


def test_the_minimap_outlines_what_the_view_shows(view: FlowView, qtbot: QtBot) -> None:
    minimap = Minimap(view)
    qtbot.addWidget(minimap)
    minimap.resize(200, 150)
    minimap.show()
    minimap.refit()
    assert minimap.visible_area().contains(view.flow_scene.nodes["a"].sceneBoundingRect())
    target = view.flow_scene.nodes["c"].sceneBoundingRect().center()
    local = minimap.mapFromScene(target)
    qtbot.mouseClick(minimap.viewport(), Qt.MouseButton.LeftButton, pos=local)
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(target)


def test_an_edge_follows_a_moved_node(view: FlowView) -> None:
    [edge] = view.flow_scene.edges["$"]
    assert isinstance(edge, EdgeItem)
    end = edge.path().pointAtPercent(1.0)
    view.document.execute("move_nodes", positions={"b": [0, 400]})
    assert edge.path().pointAtPercent(1.0).y() == pytest.approx(end.y() + 200)


def test_a_note_is_added_edited_by_double_click_moved_and_removed(
    view: FlowView, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QInputDialog

    note_id = view.add_note()
    assert note_id is not None
    note = view.flow_scene.notes[note_id]
    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *_a, **_k: ("Call the ERP team first", True))
    centre = note.mapToScene(note.boundingRect().center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(centre))
    [raw] = view.document.raw["ui"]["notes"]
    assert raw["text"] == "Call the ERP team first"
    assert view.flow_scene.notes[note_id].text == "Call the ERP team first"
    note = view.flow_scene.notes[note_id]
    view.flow_scene.clearSelection()
    before = (raw["x"], raw["y"])
    _drag(view, note.mapToScene(QPointF(20, 20)), note.mapToScene(QPointF(80, 60)))
    [raw] = view.document.raw["ui"]["notes"]
    assert (raw["x"], raw["y"]) == (before[0] + 60, before[1] + 40)
    assert view.flow_scene.notes[note_id].pos() == QPointF(before[0] + 60, before[1] + 40)
    view.flow_scene.notes[note_id].setSelected(True)
    view.delete_selection()
    assert view.document.raw["ui"]["notes"] == []
    assert note_id not in view.flow_scene.notes


def test_double_click_expands_a_collapsed_container(qtbot: QtBot) -> None:
    document = sample_document(16)
    document.execute("collapse", node="each", collapsed=True)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    canvas.resize(900, 700)
    canvas.show()
    item = canvas.flow_scene.nodes["each"]
    canvas.centerOn(item)
    with qtbot.waitSignal(canvas.nodeActivated) as signal:
        centre = item.mapToScene(QPointF(40, 30))
        qtbot.mouseDClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(centre))
    assert signal.args == ["each"]
    assert "fill" in canvas.flow_scene.nodes


def test_zoomed_far_out_the_ports_are_hidden_and_come_back(view: FlowView) -> None:
    port = view.flow_scene.nodes["a"].ports["out"]
    view.set_zoom(0.2)
    assert not port.isVisible()
    view.document.execute("add_node", type="core.log", id="late")
    assert not view.flow_scene.nodes["late"].ports["out"].isVisible()
    view.set_zoom(1.0)
    assert port.isVisible()
    assert view.flow_scene.nodes["late"].ports["out"].isVisible()


def test_an_edge_follows_a_node_while_it_is_dragged(view: FlowView) -> None:
    [edge] = view.flow_scene.edges["$"]
    item = view.flow_scene.nodes["b"]
    start = _centre(item)
    left = Qt.MouseButton.LeftButton
    _mouse(view, QEvent.Type.MouseButtonPress, start, left)
    for step in range(1, 4):
        _mouse(view, QEvent.Type.MouseMove, start + QPointF(30 * step, 0), left)
    assert edge.ends[1] == item.mapToScene(item.input_point())
    assert item.pos().x() > 60
    _mouse(view, QEvent.Type.MouseButtonRelease, start + QPointF(90, 0), Qt.MouseButton.NoButton)
    assert position(view.document.node("b"))[0] == pytest.approx(item.pos().x())


def _colours_in(view: FlowView, node_id: str) -> int:
    image = view.viewport().grab().toImage()
    box = view.mapFromScene(view.flow_scene.nodes[node_id].sceneBoundingRect()).boundingRect()
    box = box.intersected(image.rect()).adjusted(2, 2, -2, -2)
    return len({image.pixel(x, y) for x in range(box.left(), box.right()) for y in range(box.top(), box.bottom())})


def test_zoomed_far_out_a_node_paints_as_a_plain_box(view: FlowView) -> None:
    view.centerOn(view.flow_scene.nodes["a"])
    detailed = _colours_in(view, "a")
    view.set_zoom(0.3)
    view.centerOn(view.flow_scene.nodes["a"])
    boxed = _colours_in(view, "a")
    assert detailed > 20  # text, icon, ports, antialiased edges
    assert boxed <= 3  # the family colour (and the background at the rim)


def test_a_click_on_the_collapse_marker_toggles_the_container(qtbot: QtBot) -> None:
    document = sample_document(16)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    canvas.resize(1200, 800)
    canvas.show()
    item = canvas.flow_scene.nodes["each"]
    assert isinstance(item, ContainerItem)
    canvas.centerOn(item.mapToScene(item.toggle_area().center()))
    marker = canvas.mapFromScene(item.mapToScene(item.toggle_area().center()))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=marker)
    assert document.node("each")["ui"]["collapsed"] is True
    assert "fill" not in canvas.flow_scene.nodes
    item = canvas.flow_scene.nodes["each"]
    assert isinstance(item, ContainerItem)
    marker = canvas.mapFromScene(item.mapToScene(item.toggle_area().center()))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=marker)
    assert "collapsed" not in document.node("each")["ui"]
    assert "fill" in canvas.flow_scene.nodes


def test_a_node_dropped_on_a_body_moves_into_it(qtbot: QtBot) -> None:
    document = sample_document(16)
    canvas = FlowView(document)
    qtbot.addWidget(canvas)
    canvas.resize(1200, 900)
    canvas.show()
    canvas.set_zoom(0.5)
    body = canvas.flow_scene.bodies["guard.finally"]
    item = canvas.flow_scene.nodes["small"]
    canvas.centerOn(body)
    document.selection.select(["small"])
    _drag(canvas, _centre(item), body.mapToScene(body.boundingRect().center()))
    assert document.index.nodes["small"].graph_label == "guard.finally"
    assert canvas.flow_scene.nodes["small"].parentItem() is canvas.flow_scene.bodies["guard.finally"]
    assert {"from": "check", "port": "false", "to": "small"} not in document.raw["edges"]
    document.undo()  # the move inside the body
    document.undo()  # the reparent
    assert document.index.nodes["small"].graph_label == "$"
    assert {"from": "check", "port": "false", "to": "small"} in document.raw["edges"]
    assert canvas.flow_scene.nodes["small"].parentItem() is None

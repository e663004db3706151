"""The main window: files, prompts, recovery, docks, actions (pytest-qt, offscreen)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from studio.app import DockError, DockSpec, StudioWindow, shortcut_rows
from studio.app._docks import DOCKS
from studio.app._start import load_templates
from studio.model import FlowDocument

pytestmark = pytest.mark.gui
Button = QMessageBox.StandardButton


class Answers:
    """Stands in for QMessageBox's static dialogs: records each question, answers from a script."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.errors: list[str] = []
        self.answer = Button.Discard

    def question(self, _parent: object, title: str, text: str, *_args: Any) -> QMessageBox.StandardButton:
        self.asked.append(f"{title}: {text}")
        return self.answer

    def critical(self, _parent: object, title: str, text: str, *_args: Any) -> QMessageBox.StandardButton:
        self.errors.append(f"{title}: {text}")
        return Button.Ok


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    found = Answers()
    monkeypatch.setattr(QMessageBox, "question", found.question)
    monkeypatch.setattr(QMessageBox, "critical", found.critical)
    return found


@pytest.fixture
def make_window(qtbot: QtBot, tmp_path: Path, answers: Answers) -> Iterator[Callable[..., StudioWindow]]:
    made: list[StudioWindow] = []

    def make(**options: Any) -> StudioWindow:
        window = StudioWindow(config=tmp_path / "config", autosave_s=3600, templates=[], **options)
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    answers.answer = Button.Discard  # tear-down closes the windows: drop their edits
    for window in made:
        window.close()


def _flow(path: Path, raw: dict[str, Any]) -> Path:
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    return path


def _valid(path: Path) -> Path:
    raw = {"schema": "rpa.flow/1", "name": "ok", "nodes": [{"id": "a", "type": "core.log", "params": {"message": "x"}}]}
    return _flow(path, raw)


def test_a_broken_file_opens_with_its_problems_listed_and_nothing_lost(
    make_window: Callable[..., StudioWindow], tmp_path: Path
) -> None:
    broken = _flow(
        tmp_path / "broken.json",
        {
            "schema": "rpa.flow/1",
            "name": "broken",
            "x-plugin": {"kept": [1, 2, 3]},
            "nodes": [
                {"id": "a", "type": "core.log", "params": {"message": "x"}, "ui": {"x": 0, "y": 0}},
                {"id": "b", "type": "no.such_step", "ui": {"x": 0, "y": 200}},
            ],
            "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "ghost"}],
        },
    )
    window = make_window()
    assert window.open_file(broken)
    assert window.stack.currentWidget() is window.canvas
    assert len(window.problems) >= 2
    assert any("no.such_step" in problem for problem in window.problems)
    assert "problem" in window.statusBar().currentMessage()
    assert "problem(s)" in window.problems_label.text()
    assert window.canvas is not None
    assert set(window.canvas.flow_scene.nodes) == {"a", "b"}
    assert window.canvas.flow_scene.nodes["b"].problems >= 1
    window.document.execute("move_nodes", positions={"a": [10, 10]})
    assert window.save()
    saved = json.loads(broken.read_text(encoding="utf-8"))
    assert saved["x-plugin"] == {"kept": [1, 2, 3]}
    assert {"from": "a", "to": "ghost"} in saved["edges"]


def test_a_file_in_a_newer_format_is_refused_with_the_models_message(
    make_window: Callable[..., StudioWindow], answers: Answers, tmp_path: Path
) -> None:
    newer = _flow(tmp_path / "newer.json", {"schema": "rpa.flow/2", "name": "future", "nodes": []})
    before = newer.read_bytes()
    window = make_window()
    document = window.document
    assert not window.open_file(newer)
    assert window.document is document
    [error] = answers.errors
    assert "newer" in error
    assert "rpa.flow/2" in error
    assert newer.read_bytes() == before


def test_a_file_that_is_not_json_says_where(
    make_window: Callable[..., StudioWindow], answers: Answers, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "rpa.flow/1",\n  "nodes": [\n', encoding="utf-8")
    assert not make_window().open_file(bad)
    assert "line" in answers.errors[0]


def test_unsaved_edits_prompt_before_new_open_and_close(
    make_window: Callable[..., StudioWindow], answers: Answers, tmp_path: Path
) -> None:
    window = make_window()
    assert window.open_file(_valid(tmp_path / "first.json"))
    window.document.execute("add_node", type="core.log", id="extra")
    assert window.isWindowModified()
    assert "[*]" in window.windowTitle()
    edited = window.document

    answers.answer = Button.Cancel
    window.new_flow()
    assert window.document is edited
    assert not window.open_file(_valid(tmp_path / "second.json"))
    assert window.document is edited
    window.show()
    window.close()
    assert window.isVisible()
    assert len(answers.asked) == 3

    answers.answer = Button.Save
    window.new_flow()
    assert window.document is not edited
    assert "extra" in (tmp_path / "first.json").read_text(encoding="utf-8")
    assert not window.isWindowModified()

    window.document.execute("add_node", type="core.log", id="other")
    answers.answer = Button.Discard
    assert window.open_file(tmp_path / "second.json")
    assert window.document.path == tmp_path / "second.json"


def test_recovery_is_offered_after_a_crash_and_restores_the_edits(
    make_window: Callable[..., StudioWindow], answers: Answers, tmp_path: Path
) -> None:
    flow = _valid(tmp_path / "flow.json")
    crashed = make_window()
    crashed.open_file(flow)
    crashed.document.execute("add_node", type="core.log", id="unsaved", x=0, y=300)
    written = crashed.autosave()
    assert written is not None
    assert written.is_file()
    # The crash: the window never closes; a new studio starts with the same config folder.
    answers.answer = Button.Yes
    fresh = make_window()
    assert fresh.offer_recovery()
    assert "flow" in answers.asked[-1] or "ok" in answers.asked[-1]
    assert "unsaved" in fresh.document.index
    assert fresh.document.dirty
    assert fresh.document.path == flow.resolve()
    crashed.document.undo()  # the crashed window is gone for the user; keep its tear-down quiet
    crashed.recovery = fresh.recovery


def test_a_declined_recovery_is_thrown_away(
    make_window: Callable[..., StudioWindow], answers: Answers, tmp_path: Path
) -> None:
    crashed = make_window()
    crashed.document.execute("add_node", type="core.log", id="draft")
    assert crashed.autosave() is not None
    answers.answer = Button.No
    fresh = make_window()
    assert not fresh.offer_recovery()
    assert fresh.recovery.candidates() == []
    crashed.document.undo()


def test_undo_and_redo_actions_follow_the_document(make_window: Callable[..., StudioWindow]) -> None:
    window = make_window()
    undo, redo = window.actions_by_key["undo"], window.actions_by_key["redo"]
    assert not undo.isEnabled()
    window.document.execute("add_node", type="core.log", id="a")
    assert undo.isEnabled()
    assert "Add node" in undo.text()
    undo.trigger()
    assert "a" not in window.document.index
    assert redo.isEnabled()
    redo.trigger()
    assert "a" in window.document.index


def test_every_common_action_has_a_shortcut_shown_in_the_cheat_sheet(make_window: Callable[..., StudioWindow]) -> None:
    window = make_window()
    for key in ("new", "open", "save", "undo", "redo", "copy", "paste", "delete", "zoom_in", "zoom_out", "fit"):
        assert window.actions_by_key[key].shortcuts(), key
    rows = shortcut_rows(window.actions_by_key)
    assert ("Edit", "Undo", "Ctrl+Z") in [(m, a.split(" ")[0], k) for m, a, k in rows]
    sheet = window.show_shortcuts()
    assert sheet.table.rowCount() == len(rows)
    assert sheet.table.item(0, 2).text()
    sheet.close()


def test_the_canvas_actions_reach_the_canvas(make_window: Callable[..., StudioWindow]) -> None:
    window = make_window()
    window.open_document(FlowDocument.new())
    assert window.canvas is not None
    before = window.canvas.zoom
    window.actions_by_key["zoom_in"].trigger()
    assert window.canvas.zoom == pytest.approx(before * 1.25)
    window.actions_by_key["zoom_reset"].trigger()
    assert window.canvas.zoom == pytest.approx(1.0)
    window.document.execute("add_node", type="core.log", id="a")
    window.document.selection.select(["a"])
    window.actions_by_key["duplicate"].trigger()
    assert len(window.document.index) == 2
    window.actions_by_key["delete"].trigger()
    assert len(window.document.index) == 1


def test_the_docks_come_from_the_dock_table_and_a_missing_module_is_an_error(
    make_window: Callable[..., StudioWindow], tmp_path: Path
) -> None:
    window = make_window()
    assert set(window.dock_widgets) == {spec.title for spec in DOCKS}
    assert {"Palette", "Outline", "Minimap", "Properties", "Problems"} <= set(window.dock_widgets)
    palette = window.dock_widgets["Palette"].widget()
    window.open_document(FlowDocument.new("another"))
    assert window.dock_widgets["Palette"].widget() is not palette
    with pytest.raises(DockError, match=r"studio\.views\.nothing_here"):
        StudioWindow(config=tmp_path, docks=[DockSpec("Nothing", "studio.views.nothing_here:dock", "left")])


def test_the_window_layout_is_remembered(make_window: Callable[..., StudioWindow]) -> None:
    few = DOCKS[:3]  # all the docks together need more than the offscreen screen's height
    first = make_window(docks=few)
    first.show()
    first.resize(700, 500)
    first.close()
    second = make_window(docks=few)
    assert (second.width(), second.height()) == (700, 500)


def test_save_as_writes_json_and_adds_a_recent_file(
    make_window: Callable[..., StudioWindow], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = make_window()
    window.new_flow()
    window.document.execute("add_node", type="core.log", id="a")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(tmp_path / "drawn"), ""))
    assert window.save()
    assert (tmp_path / "drawn.json").is_file()
    assert window.recent.list() == [(tmp_path / "drawn.json").resolve()]
    assert not window.isWindowModified()


def test_extract_selection_writes_the_sub_flow_and_undoes_in_one_step(
    make_window: Callable[..., StudioWindow], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = make_window()
    window.open_document(FlowDocument.new())
    run = window.document.execute
    for name in ("a", "b", "c"):
        run("add_node", type="core.log", id=name, params={"message": name})
    run("connect", source="a", target="b")
    run("connect", source="b", target="c")
    window.document.selection.select(["b"])
    target = tmp_path / "part.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(target), ""))
    assert window.extract_selection()
    sub = json.loads(target.read_text(encoding="utf-8"))
    assert [n["id"] for n in sub["nodes"]] == ["b"]
    [call] = [r.id for r in window.document.index.refs if r.node["type"] == "flow.call"]
    assert window.document.selection.ids == {call}
    assert "b" not in window.document.index
    window.document.undo()
    assert "b" in window.document.index
    assert call not in window.document.index


def test_the_start_page_lists_templates_and_opens_one_unsaved(qtbot: QtBot, tmp_path: Path, answers: Answers) -> None:
    templates = load_templates()
    assert len(templates) >= 10
    window = StudioWindow(config=tmp_path / "config", templates=templates[:3])
    qtbot.addWidget(window)
    page = window.start_page
    assert page.template_list.count() == 3
    assert page.preview_view is not None
    assert page.preview_view.read_only
    assert len(page.preview_view.flow_scene.nodes) == len(FlowDocument(templates[0].flow).index)
    page.template_list.setCurrentRow(1)
    page.use_template(1)
    assert window.stack.currentWidget() is window.canvas
    assert window.document.path is None
    assert window.document.raw["name"] == templates[1].flow["name"]
    window.document.undo_stack.mark_clean()
    window.close()


def test_a_large_flow_is_validated_off_the_ui_thread(make_window: Callable[..., StudioWindow], qtbot: QtBot) -> None:
    from tests.studio.flows import big_document

    window = make_window()
    document = big_document(400)
    window.open_document(document)
    document.execute("set_param", node="n7", name="message", delete=True)
    qtbot.waitUntil(lambda: window._checking is not None or bool(window.problems), timeout=20_000)
    window.wait_for_validation()
    qtbot.waitUntil(lambda: bool(window.problems), timeout=20_000)
    assert any("message" in problem for problem in window.problems)
    assert window.canvas is not None
    assert window.canvas.flow_scene.nodes["n7"].problems == 1


def test_the_recent_files_menu_opens_a_recent_flow(make_window: Callable[..., StudioWindow], tmp_path: Path) -> None:
    window = make_window()
    flow = _valid(tmp_path / "recent.json")
    assert window.open_file(flow)
    window.new_flow()
    window.recent_menu.aboutToShow.emit()
    [entry] = window.recent_menu.actions()
    assert entry.text() == str(flow.resolve())
    entry.trigger()
    assert window.document.path == flow


def test_align_distribute_and_auto_layout_actions(make_window: Callable[..., StudioWindow]) -> None:
    window = make_window()
    window.open_document(FlowDocument.new())
    run = window.document.execute
    for number, (x, y) in enumerate([(0, 0), (50, 300), (400, 120)]):
        run("add_node", type="core.log", id=f"n{number}", params={"message": "x"}, x=x, y=y)
    window.document.selection.select(["n0", "n1", "n2"])
    window.actions_by_key["align_top"].trigger()
    assert {window.document.node(f"n{n}")["ui"]["y"] for n in range(3)} == {0}
    window.actions_by_key["distribute_h"].trigger()
    xs = sorted(window.document.node(f"n{n}")["ui"]["x"] for n in range(3))
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1])
    run("connect", source="n0", target="n1")
    window.actions_by_key["auto_layout"].trigger()
    assert window.document.node("n1")["ui"]["y"] > window.document.node("n0")["ui"]["y"]
    assert window.canvas is not None
    assert window.canvas.flow_scene.nodes["n1"].pos().y() == window.document.node("n1")["ui"]["y"]


def test_a_refused_wire_is_explained_in_the_status_bar(make_window: Callable[..., StudioWindow]) -> None:
    window = make_window()
    window.open_document(FlowDocument.new())
    window.document.execute("add_node", type="core.log", id="a", params={"message": "x"})
    assert window.canvas is not None
    assert not window.canvas.connect_nodes("a", "a")
    assert "itself" in window.statusBar().currentMessage()


def test_the_canvas_context_menu_holds_the_edit_actions(make_window: Callable[..., StudioWindow]) -> None:
    window = make_window()
    assert window.canvas is not None
    keys = {action.objectName().removeprefix("action-") for action in window.canvas.actions()}
    assert {"copy", "paste", "delete", "disable", "extract"} <= keys


def test_a_yaml_flow_is_imported_and_saved_as_json(
    make_window: Callable[..., StudioWindow], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = tmp_path / "drawn.yaml"
    source.write_text(
        "schema: rpa.flow/1\nname: from yaml\nnodes:\n  - id: a\n    type: core.log\n    params: {message: x}\n",
        encoding="utf-8",
    )
    window = make_window()
    assert window.open_file(source)
    assert window.document.path is None
    assert window.isWindowModified()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(tmp_path / "drawn.json"), ""))
    assert window.save()
    assert json.loads((tmp_path / "drawn.json").read_text(encoding="utf-8"))["name"] == "from yaml"


def test_the_start_page_opens_a_recent_file(make_window: Callable[..., StudioWindow], tmp_path: Path) -> None:
    window = make_window()
    flow = _valid(tmp_path / "again.json")
    window.recent.add(flow)
    window.show_start_page()
    assert window.stack.currentWidget() is window.start_page
    entry = window.start_page.recent.item(0)
    window.start_page.recent.itemActivated.emit(entry)
    assert window.document.path == flow.resolve()
    assert window.stack.currentWidget() is window.canvas


def test_the_theme_choice_is_applied_and_remembered(
    make_window: Callable[..., StudioWindow], qapp: QApplication
) -> None:
    palette, style = qapp.palette(), qapp.style().name()
    window = make_window()
    try:
        window.actions_by_key["theme_dark"].trigger()
        assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 100
        assert window.settings.get("theme") == "dark"
        window.actions_by_key["theme_light"].trigger()
        assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 150
    finally:
        qapp.setStyle(style)
        qapp.setPalette(palette)


def test_the_docks_are_wired_together(make_window: Callable[..., StudioWindow]) -> None:
    """The debugger's actions are in the Debug menu, and "Capture region" on a field reaches the
    region capture (which refuses an unsaved flow, on the status bar)."""
    from studio.views.properties import PropertiesPanel

    window = make_window()
    window.new_flow()
    window.document.execute("add_node", type="desktop.click", id="c")
    labels = {action.text(): action.shortcut().toString() for action in window.tools.debug_menu.actions()}
    assert labels["Run"] == "F5"
    assert labels["Toggle breakpoint"] == "F9"
    panel = window.dock_widgets["Properties"].widget()
    assert isinstance(panel, PropertiesPanel)
    panel.capture_requested.emit("c", "$.params.target")
    assert "save the flow first" in window.statusBar().currentMessage()
    assert window.tools.picker is not None

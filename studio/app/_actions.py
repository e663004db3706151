"""Every menu action of the main window, one table: text, shortcut, menu, and what it does.

The menus, the toolbar and the cheat sheet (Help > Keyboard shortcuts) are all built from this
table, so a shortcut shown anywhere is the one that works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from studio.app._window import StudioWindow

Handler = Callable[["StudioWindow"], object]


class ActionSpec(NamedTuple):
    """One action: its key (for code and tests), menu, text, shortcuts, handler, and whether it
    needs the canvas and goes on the toolbar."""

    key: str
    menu: str
    text: str
    shortcuts: tuple[str | QKeySequence.StandardKey, ...]
    handler: Handler
    toolbar: bool = False


def _canvas(call: Callable[..., object], *args: object) -> Handler:
    def run(window: StudioWindow) -> object:
        canvas = window.canvas
        return call(canvas, *args) if canvas is not None else None

    return run


def _build_table() -> tuple[ActionSpec, ...]:
    from studio.views.canvas import FlowView

    keys = QKeySequence.StandardKey
    return (
        ActionSpec("new", "&File", "&New flow", (keys.New,), lambda w: w.new_flow(), True),
        ActionSpec("open", "&File", "&Open…", (keys.Open,), lambda w: w.open_dialog(), True),
        ActionSpec("save", "&File", "&Save", (keys.Save,), lambda w: w.save(), True),
        ActionSpec("save_as", "&File", "Save &as…", ("Ctrl+Shift+S",), lambda w: w.save_as()),
        ActionSpec("start", "&File", "Start &page", ("Ctrl+Shift+H",), lambda w: w.show_start_page()),
        ActionSpec("quit", "&File", "&Quit", ("Ctrl+Q",), lambda w: w.close()),
        ActionSpec("undo", "&Edit", "&Undo", (keys.Undo,), lambda w: w.document.undo(), True),
        ActionSpec("redo", "&Edit", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), lambda w: w.document.redo(), True),
        ActionSpec("cut", "&Edit", "Cu&t", (keys.Cut,), _canvas(FlowView.cut_selection)),
        ActionSpec("copy", "&Edit", "&Copy", (keys.Copy,), _canvas(FlowView.copy_selection)),
        ActionSpec("paste", "&Edit", "&Paste", (keys.Paste,), _canvas(FlowView.paste)),
        ActionSpec("duplicate", "&Edit", "D&uplicate", ("Ctrl+D",), _canvas(FlowView.duplicate)),
        ActionSpec("delete", "&Edit", "&Delete", ("Del",), _canvas(FlowView.delete_selection)),
        ActionSpec("select_all", "&Edit", "Select &all", (keys.SelectAll,), _canvas(FlowView.select_all)),
        ActionSpec("disable", "&Edit", "Disable / enable", ("Ctrl+E",), _canvas(FlowView.toggle_disabled)),
        ActionSpec("collapse", "&Edit", "Collapse / expand", ("Ctrl+.",), _canvas(FlowView.toggle_collapsed)),
        ActionSpec("note", "&Edit", "Add sticky &note", ("Ctrl+Shift+N",), _canvas(FlowView.add_note)),
        ActionSpec("extract", "&Edit", "E&xtract to sub-flow…", ("Ctrl+Shift+X",), lambda w: w.extract_selection()),
        ActionSpec("align_left", "&Arrange", "Align &left", ("Ctrl+Alt+Left",), _canvas(FlowView.align, "left")),
        ActionSpec("align_right", "&Arrange", "Align &right", ("Ctrl+Alt+Right",), _canvas(FlowView.align, "right")),
        ActionSpec("align_top", "&Arrange", "Align &top", ("Ctrl+Alt+Up",), _canvas(FlowView.align, "top")),
        ActionSpec("align_bottom", "&Arrange", "Align &bottom", ("Ctrl+Alt+Down",), _canvas(FlowView.align, "bottom")),
        ActionSpec("align_hcenter", "&Arrange", "Align centres", ("Ctrl+Alt+C",), _canvas(FlowView.align, "hcenter")),
        ActionSpec("align_vcenter", "&Arrange", "Align middles", ("Ctrl+Alt+M",), _canvas(FlowView.align, "vcenter")),
        ActionSpec(
            "distribute_h",
            "&Arrange",
            "Distribute horizontally",
            ("Ctrl+Alt+H",),
            _canvas(FlowView.distribute, "horizontal"),
        ),
        ActionSpec(
            "distribute_v",
            "&Arrange",
            "Distribute vertically",
            ("Ctrl+Alt+V",),
            _canvas(FlowView.distribute, "vertical"),
        ),
        ActionSpec("auto_layout", "&Arrange", "Auto-&layout", ("Ctrl+L",), _canvas(FlowView.auto_layout), True),
        ActionSpec("zoom_in", "&View", "Zoom &in", ("Ctrl++", "Ctrl+="), _canvas(FlowView.zoom_in), True),
        ActionSpec("zoom_out", "&View", "Zoom &out", ("Ctrl+-",), _canvas(FlowView.zoom_out), True),
        ActionSpec("zoom_reset", "&View", "&Actual size", ("Ctrl+0",), _canvas(FlowView.reset_zoom)),
        ActionSpec("fit", "&View", "&Fit to view", ("Ctrl+1",), _canvas(FlowView.fit), True),
        ActionSpec("theme_system", "&View", "Theme: follow the system", (), lambda w: w.set_theme("system")),
        ActionSpec("theme_light", "&View", "Theme: light", (), lambda w: w.set_theme("light")),
        ActionSpec("theme_dark", "&View", "Theme: dark", (), lambda w: w.set_theme("dark")),
        ActionSpec("shortcuts", "&Help", "&Keyboard shortcuts", ("Ctrl+/", "F1"), lambda w: w.show_shortcuts()),
    )


def build_actions(window: StudioWindow) -> dict[str, QAction]:
    """Create the actions, put them in the window's menus and toolbar; the actions by key."""
    actions: dict[str, QAction] = {}
    menus: dict[str, object] = {}
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("toolbar-main")
    for spec in _build_table():
        action = QAction(spec.text, window)
        action.setObjectName(f"action-{spec.key}")
        action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        action.triggered.connect(lambda _checked=False, s=spec: s.handler(window))
        menu = menus.get(spec.menu)
        if menu is None:
            menu = menus[spec.menu] = window.menuBar().addMenu(spec.menu)
        menu.addAction(action)  # type: ignore[attr-defined]
        if spec.toolbar:
            toolbar.addAction(action)
        window.addAction(action)
        actions[spec.key] = action
    return actions


def shortcut_rows(actions: dict[str, QAction]) -> list[tuple[str, str, str]]:
    """(menu, action, shortcuts) for every action with a shortcut, as the menus show them."""
    rows = []
    for spec in _build_table():
        action = actions.get(spec.key)
        if action is None or not action.shortcuts():
            continue
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
        rows.append((spec.menu.replace("&", ""), action.text().replace("&", ""), keys))
    return rows


class ShortcutSheet(QDialog):
    """The cheat sheet: every action and its shortcuts, generated from the actions."""

    def __init__(self, actions: dict[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Menu", "Action", "Shortcut"])
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.resize(520, 640)

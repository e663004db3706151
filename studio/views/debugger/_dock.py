"""The debugger dock: run controls, the paused node, variables, log, artifacts, breakpoints.

The actions (`DebugActions`) are plain `QAction`s with their shortcuts, so the main window puts
the same objects in its Debug menu and toolbar; their enabled state follows the debugger's
state. Everything shown is redrawn from the controller's signals.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from shared.engine import ExecutionResult, NodeStop
from shared.errors import FlowInvalidError
from studio.model import FlowDocument
from studio.model.debugger import DebuggerError, NodeRun
from studio.views.debugger._controller import DebugController
from studio.widgets.forms import RunFormDialog

ACTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("run", "Run", "F5", ("idle", "finished")),
    ("run_with_inputs", "Run with inputs…", "Ctrl+F5", ("idle", "finished")),
    ("run_from_selected", "Run from selected node", "Ctrl+Shift+F5", ("idle", "finished")),
    ("continue_", "Continue", "F8", ("paused",)),
    ("step_over", "Step over", "F10", ("paused",)),
    ("step_into", "Step into", "F11", ("paused",)),
    ("pause", "Pause", "F6", ("running",)),
    ("stop", "Stop", "Shift+F5", ("running", "pausing", "paused")),
    ("toggle_breakpoint", "Toggle breakpoint", "F9", ()),
    ("conditional_breakpoint", "Conditional breakpoint…", "Ctrl+F9", ()),
)
"""(name, label, shortcut, states it is enabled in; empty: always) of every debug action."""


class DebugActions(QObject):
    """The debugger's `QAction`s (attribute per name in `ACTIONS`), enabled by the debugger's state."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.by_name: dict[str, QAction] = {}
        for name, label, shortcut, _ in ACTIONS:
            action = QAction(label, self)
            action.setObjectName(f"debug-{name}")
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.by_name[name] = action
        self.follow("idle")

    def __getitem__(self, name: str) -> QAction:
        return self.by_name[name]

    def all(self) -> list[QAction]:
        """Every action, in menu order."""
        return list(self.by_name.values())

    def follow(self, state: str) -> None:
        """Enable the actions the debugger's `state` allows."""
        for name, _, _, states in ACTIONS:
            self.by_name[name].setEnabled(not states or state in states)


def fill_json_tree(parent: QTreeWidgetItem, value: Any, *, limit: int = 200) -> None:
    """Add `value` under `parent` as a tree: objects and lists open up, scalars show as JSON."""
    if isinstance(value, dict):
        items: list[tuple[str, Any]] = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"[{i}]", v) for i, v in enumerate(value)]
    else:
        parent.setText(1, _scalar(value))
        return
    parent.setText(1, f"{{{len(items)}}}" if isinstance(value, dict) else f"[{len(items)}]")
    for key, child_value in items[:limit]:
        child = QTreeWidgetItem(parent, [key, ""])
        fill_json_tree(child, child_value, limit=limit)
    if len(items) > limit:
        QTreeWidgetItem(parent, [f"… {len(items) - limit} more", ""])


def _scalar(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _parse(text: str) -> Any:
    """A variable typed in the table: JSON when it parses (`3`, `true`, `[1]`), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class DebuggerDock(QWidget):
    """The debugger panel over one document.

    Args:
        document: the open flow.
        controller: the run controller (a new one when None).
        parent: the Qt parent.
    """

    def __init__(
        self, document: FlowDocument, controller: DebugController | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("debugger-dock")
        self.document = document
        self.controller = controller or DebugController(document, parent=self)
        self.debug_actions = DebugActions(self)
        self._filling = False
        self._build()
        self._wire()

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        toolbar = QToolBar()
        for action in self.debug_actions.all():
            toolbar.addAction(action)
            self.addAction(action)
        layout.addWidget(toolbar)
        self.status = QLabel("Ready")
        self.status.setObjectName("debugger-status")
        layout.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical)
        self.node_tree = QTreeWidget()
        self.node_tree.setObjectName("debugger-node")
        self.node_tree.setHeaderLabels(["Node", "Value"])
        self.node_tree.setColumnWidth(0, 180)
        self.variables = QTableWidget(0, 2)
        self.variables.setObjectName("debugger-variables")
        self.variables.setHorizontalHeaderLabels(["Variable", "Value (JSON)"])
        self.variables.horizontalHeader().setStretchLastSection(True)
        self.tabs = QTabWidget()
        self.log = QPlainTextEdit()
        self.log.setObjectName("debugger-log")
        self.log.setReadOnly(True)
        self.artifact_list = QListWidget()
        self.artifact_list.setObjectName("debugger-artifacts")
        self.artifact_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.artifact_list.setIconSize(QSize(96, 72))
        self.breakpoint_table = QTableWidget(0, 2)
        self.breakpoint_table.setObjectName("debugger-breakpoints")
        self.breakpoint_table.setHorizontalHeaderLabels(["Node", "Condition"])
        self.breakpoint_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.variables, "Variables")
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(self.artifact_list, "Artifacts")
        self.tabs.addTab(self.breakpoint_table, "Breakpoints")
        split.addWidget(self.node_tree)
        split.addWidget(self.tabs)
        layout.addWidget(split, 1)

    def _wire(self) -> None:
        actions, controller = self.debug_actions, self.controller
        actions["run"].triggered.connect(lambda: self._start(None))
        actions["run_with_inputs"].triggered.connect(self.run_with_inputs)
        actions["run_from_selected"].triggered.connect(self.run_from_selected)
        for name in ("continue_", "step_over", "step_into", "pause", "stop"):
            actions[name].triggered.connect(lambda _=False, n=name: self._act(n))
        actions["toggle_breakpoint"].triggered.connect(self.toggle_breakpoint)
        actions["conditional_breakpoint"].triggered.connect(self.conditional_breakpoint)
        controller.state_changed.connect(self._on_state)
        controller.paused.connect(self._on_paused)
        controller.node_settled.connect(self._on_settled)
        controller.log_line.connect(self._on_log)
        controller.artifacts_changed.connect(self._on_artifacts)
        controller.breakpoints_changed.connect(self._on_breakpoints)
        controller.finished.connect(self._on_finished)
        self.variables.itemChanged.connect(self._on_variable_edited)
        self.breakpoint_table.itemChanged.connect(self._on_condition_edited)
        self.artifact_list.itemActivated.connect(self._show_artifact)
        self.artifact_list.itemClicked.connect(self._show_artifact)

    # -- the user's actions -----------------------------------------------------------------

    def _start(self, inputs: dict[str, Any] | None, node: str | None = None) -> None:
        try:
            if node is None:
                self.controller.run(inputs)
            else:
                self.controller.run_from(node, inputs)
        except FlowInvalidError as err:
            self._say("The flow has problems: " + "; ".join(f"{p.path}: {p.message}" for p in err.problems))
        except DebuggerError as err:
            self._say(str(err))
        else:
            self.log.clear()
            self.node_tree.clear()

    def run_with_inputs(self) -> None:
        """Ask for the flow's inputs in a form, then run with them."""
        inputs = self.document.raw.get("inputs") or {}
        if not inputs:
            self._start(None)
            return
        dialog = RunFormDialog(inputs, parent=self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self._start(dialog.result_values)

    def run_from_selected(self) -> None:
        """Run from the selected node, the nodes before it replayed from the last run."""
        node = self._selected()
        if node is not None:
            self._start(None, node)

    def _act(self, name: str) -> None:
        try:
            getattr(self.controller, name)()
        except DebuggerError as err:
            self._say(str(err))

    def _selected(self) -> str | None:
        ids = sorted(self.document.selection.ids)
        if len(ids) != 1:
            self._say("Select one node first.")
            return None
        return ids[0]

    def toggle_breakpoint(self) -> None:
        """Add or remove a breakpoint on the selected node."""
        node = self._selected()
        if node is not None:
            on = self.controller.toggle_breakpoint(node)
            self._say(f"Breakpoint {'on' if on else 'off'}: {node}")

    def conditional_breakpoint(self) -> None:
        """Ask for a condition and break on the selected node only when it is true."""
        node = self._selected()
        if node is None:
            return
        point = self.controller.breakpoints.get(node)
        text, ok = QInputDialog.getText(
            self,
            "Conditional breakpoint",
            f"Stop at {node} when (e.g. {{{{ vars.count > 3 }}}}):",
            text=(point.condition or "") if point else "",
        )
        if ok:
            self.controller.set_breakpoint(node, text.strip() or None)

    def _say(self, message: str) -> None:
        self.status.setText(message)

    # -- following the run ------------------------------------------------------------------

    def _on_state(self, state: str) -> None:
        self.debug_actions.follow(state)
        if state != "paused":
            self._say(state.capitalize())
        editable = state == "paused"
        trigger = QTableWidget.EditTrigger
        self.variables.setEditTriggers(
            trigger.DoubleClicked | trigger.EditKeyPressed if editable else trigger.NoEditTriggers
        )

    def _on_paused(self, stop: NodeStop) -> None:
        self._say(f"Paused before {stop.path} ({self.controller.reason})")
        self.node_tree.clear()
        head = QTreeWidgetItem(self.node_tree, [stop.path, stop.node.type])
        params = QTreeWidgetItem(head, ["params", ""])
        fill_json_tree(params, stop.params if stop.params_error is None else stop.params_error)
        outputs = QTreeWidgetItem(self.node_tree, ["outputs in scope", ""])
        fill_json_tree(outputs, stop.outputs)
        self.node_tree.expandToDepth(1)
        self._show_variables(stop.variables)

    def _show_variables(self, variables: dict[str, Any]) -> None:
        self._filling = True
        try:
            self.variables.setRowCount(len(variables))
            for row, (name, value) in enumerate(sorted(variables.items())):
                key = QTableWidgetItem(name)
                key.setFlags(key.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.variables.setItem(row, 0, key)
                self.variables.setItem(row, 1, QTableWidgetItem(_scalar(value)))
        finally:
            self._filling = False

    def _on_variable_edited(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1:
            return
        name_item = self.variables.item(item.row(), 0)
        if name_item is None:
            return
        try:
            self.controller.set_variable(name_item.text(), _parse(item.text()))
        except DebuggerError as err:
            self._say(str(err))
        else:
            self._say(f"{name_item.text()} = {item.text()}")

    def _on_settled(self, run: NodeRun) -> None:
        """Show what the node did: its params, output, and error."""
        self.node_tree.clear()
        head = QTreeWidgetItem(self.node_tree, [run.path, run.status or ""])
        for label, value in (("params", run.params), ("output", run.output), ("error", run.error)):
            if label == "error" and value is None:
                continue
            fill_json_tree(QTreeWidgetItem(head, [label, ""]), value)
        self.node_tree.expandToDepth(1)

    def _on_log(self, path: str, level: str, message: str) -> None:
        self.log.appendPlainText(f"{level.upper():7} {path}: {message}")

    def _on_artifacts(self) -> None:
        self.artifact_list.clear()
        for path in self.controller.artifacts:
            item = QListWidgetItem(QIcon(QPixmap(str(path))), path.name)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.artifact_list.addItem(item)

    def _show_artifact(self, item: QListWidgetItem) -> None:
        ArtifactViewer(str(item.data(Qt.ItemDataRole.UserRole)), self).show()

    def _on_breakpoints(self) -> None:
        self._filling = True
        try:
            points = sorted(self.controller.breakpoints.values(), key=lambda p: p.node)
            self.breakpoint_table.setRowCount(len(points))
            for row, point in enumerate(points):
                key = QTableWidgetItem(point.node)
                key.setFlags(key.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.breakpoint_table.setItem(row, 0, key)
                self.breakpoint_table.setItem(row, 1, QTableWidgetItem(point.condition or ""))
        finally:
            self._filling = False

    def _on_condition_edited(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1:
            return
        node = self.breakpoint_table.item(item.row(), 0)
        if node is not None:
            self.controller.set_breakpoint(node.text(), item.text().strip() or None)

    def _on_finished(self, result: ExecutionResult | None) -> None:
        if result is None:
            self._say("Finished: the run was torn down")
            return
        error = result.error
        self._say(f"Finished: {result.status}" + (f" — {error.get('message')}" if error else ""))


class ArtifactViewer(QDialog):
    """One artifact image at full size, scrollable."""

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(path.rsplit("/", 1)[-1])
        self.image = QLabel()
        self.image.setPixmap(QPixmap(path))
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        self.resize(800, 600)


def debugger_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """The dock factory of `studio/app/_docks.py`: the debugger panel over `document`."""
    return DebuggerDock(document, parent=window)

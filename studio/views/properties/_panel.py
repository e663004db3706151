"""The properties panel: the selected node's settings and a form built from its step's params
schema, following the document's events and editing it only through `FlowDocument.execute`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication, QGroupBox, QLabel, QMainWindow, QScrollArea, QVBoxLayout, QWidget

from shared.flow._validate import json_path
from studio.model import (
    CommandError,
    FlowDocument,
    NodesChanged,
    NodesRemoved,
    SelectionChanged,
    ValidationChanged,
    parse_json_path,
)
from studio.views.properties._fields import FieldRow, FormContext, Path
from studio.views.properties._node import NodeSettings, SharedSettings
from studio.views.properties._schema import FieldSpec, params_fields
from studio.views.properties._scope import completions


class PropertiesPanel(QWidget):
    """The selected node's properties.

    Args:
        document: the open flow.
        credential_names: the credential names to offer (the orchestrator's list when signed
            in); none by default.

    Signals:
        pick_requested(node_id, json_path): "Pick element" was pressed on a selector field
            (`$.params.target`); answer with `set_value`.
        capture_requested(node_id, json_path): "Capture region" on an image-target field.
    """

    pick_requested = Signal(str, str)
    capture_requested = Signal(str, str)

    def __init__(
        self,
        document: FlowDocument,
        *,
        credential_names: Callable[[], list[str]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("propertiesPanel")
        self.document = document
        self.credential_names = credential_names or (list)
        self.node_id: str | None = None
        self._multi: frozenset[str] = frozenset()
        self.context = FormContext()
        self.problems: tuple[Any, ...] = ()
        self.findings: tuple[Any, ...] = ()
        self._shown = ""
        self.error = QLabel(self)
        self.error.setObjectName("commandError")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.error)
        layout.addWidget(self.scroller)
        self.content: QWidget = QWidget()
        events = document.events
        self._disconnect = [
            events.connect(SelectionChanged, lambda e: self.show_selection(e.ids)),
            events.connect(NodesChanged, self._on_changed),
            events.connect(NodesRemoved, lambda e: self.show_selection(self.document.selection.ids)),
            events.connect(ValidationChanged, self._on_validation),
        ]
        self.destroyed.connect(lambda: [d() for d in self._disconnect])
        self.show_selection(document.selection.ids)

    # -- following the model ----------------------------------------------------------------

    def show_selection(self, ids: frozenset[str]) -> None:
        """Show the form of the one selected node, or what several share."""
        ids = frozenset(i for i in ids if i in self.document.index)
        if len(ids) == 1:
            self.node_id = next(iter(ids))
            self._rebuild()
            return
        self.node_id = None
        self._shown = ""
        self._multi = frozenset()
        self.context = FormContext()
        if not ids:
            self._set_content(_message("Select a node to see its properties."))
            return
        order = {ref.id: n for n, ref in enumerate(self.document.index.refs)}
        nodes = [self.document.node(i) for i in sorted(ids, key=lambda i: order.get(i, 0))]
        types = {node.get("type") for node in nodes}
        shared = f" (all {types.pop()})" if len(types) == 1 else ""
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addWidget(_message(f"{len(ids)} nodes selected{shared}."))
        layout.addWidget(SharedSettings(nodes, self.send))
        layout.addStretch(1)
        self._set_content(content)
        self._multi = frozenset(ids)

    def _on_changed(self, event: NodesChanged) -> None:
        if self.node_id is not None and self.node_id in event.ids:
            self._rebuild()
        elif self.node_id is None and self._multi & event.ids:
            self.show_selection(self._multi)

    def _on_validation(self, event: ValidationChanged) -> None:
        self.problems, self.findings = event.problems, event.findings
        self._place_problems()

    def _rebuild(self, *, force: bool = False) -> None:
        if self.node_id is None or self.node_id not in self.document.index:
            return
        node = self.document.node(self.node_id)
        snapshot = json.dumps(node, sort_keys=True)
        if snapshot == self._shown and not force:
            return
        self._shown = snapshot
        focused = self._focused()
        node_id = self.node_id

        def pick(path: Path) -> None:
            self.pick_requested.emit(node_id, _path(path))

        def capture(path: Path) -> None:
            self.capture_requested.emit(node_id, _path(path))

        self.context = FormContext(
            words=lambda: completions(self.document, node_id),
            credential_names=self.credential_names,
            request_pick=pick,
            request_capture=capture,
        )
        content = QWidget()
        layout = QVBoxLayout(content)
        self.node_problems = QLabel()
        self.node_problems.setObjectName("nodeProblems")
        self.node_problems.setStyleSheet("color: #c0392b;")
        self.node_problems.setWordWrap(True)
        self.node_problems.hide()
        layout.addWidget(self.node_problems)
        layout.addWidget(NodeSettings(node, self.send))
        layout.addWidget(self._params_box(node))
        layout.addStretch(1)
        self._set_content(content)
        self._place_problems()
        if focused is not None:
            self._refocus(*focused)

    def _params_box(self, node: dict[str, Any]) -> QGroupBox:
        box = QGroupBox("Parameters")
        box.setObjectName("paramsBox")
        layout = QVBoxLayout(box)
        params = node.get("params")
        if params is not None and not isinstance(params, dict):
            layout.addWidget(_message(f"params is not an object in the file ({json.dumps(params)}); kept as is."))
            return box
        params = params or {}
        step_type = node.get("type")
        fields: tuple[FieldSpec, ...] = ()
        if isinstance(step_type, str) and step_type in self.document.registry:
            definition = self.document.registry.get(step_type)
            fields = params_fields(definition.params.model_json_schema(), definition.capability)
        else:
            layout.addWidget(_message(f"Unknown step '{step_type}': its params are shown as JSON and kept."))
        known = {spec.name for spec in fields}
        for spec in fields:
            layout.addWidget(self._row(spec, params))
        for name in params:
            if name not in known:
                raw = self._row(FieldSpec(name=name, kind="json", schema={}), params)
                raw.label.setText(f"{name} (not a param of this step: kept)")
                layout.addWidget(raw)
        return box

    def _row(self, spec: FieldSpec, params: dict[str, Any]) -> FieldRow:
        row = FieldRow(spec, params.get(spec.name), spec.name in params, (spec.name,), self.context)
        row.committed.connect(lambda value, name=spec.name: self.set_param(name, value))
        row.reset.connect(lambda name=spec.name: self.set_param(name, None, delete=True))
        return row

    def _focused(self) -> tuple[Path | None, str, int] | None:
        """Where the keyboard focus is in the form: (field path or None, object name, position
        among the field's focusable widgets), so a redraw after an edit can put it back (Tab
        from one field to the next commits the first and must land in the second)."""
        widget = QApplication.focusWidget()
        if widget is None or not self.content.isAncestorOf(widget):
            return None
        parent: QObject | None = widget
        while parent is not None and not isinstance(parent, FieldRow):
            parent = parent.parent()
        if isinstance(parent, FieldRow):
            return parent.path, "", _focusable(parent).index(widget) if widget in _focusable(parent) else 0
        return None, widget.objectName(), 0

    def _refocus(self, path: Path | None, name: str, position: int) -> None:
        target: QWidget | None = None
        if path is not None and path in self.context.rows:
            widgets = _focusable(self.context.rows[path])
            target = widgets[min(position, len(widgets) - 1)] if widgets else None
        elif name:
            target = self.content.findChild(QWidget, name)
        if target is not None:
            target.setFocus()

    def _set_content(self, widget: QWidget) -> None:
        old = self.scroller.takeWidget()
        if old is not None:
            old.deleteLater()
        self.content = widget
        self.scroller.setWidget(widget)

    def _place_problems(self) -> None:
        """Put each problem of this node next to its field (the deepest one its path names)."""
        if self.node_id is None or self.node_id not in self.document.index:
            return
        ref = self.document.index.nodes[self.node_id]
        by_row: dict[Path, list[str]] = {}
        general: list[str] = []
        items = [(p.problem.path, p.problem.message, p.node) for p in self.problems]
        items += [(f.path, f"{f.message} [{f.rule}]", f.node) for f in self.findings]
        for path, message, node in items:
            if node != self.node_id:
                continue
            parts = parse_json_path(path)[len(ref.parts) :]
            target = _deepest(self.context.rows, parts[1:]) if parts[:1] == ("params",) else None
            (by_row.setdefault(target, []) if target is not None else general).append(message)
        for path, row in self.context.rows.items():
            row.show_problems(by_row.get(path, []))
        self.node_problems.setText("\n".join(general))
        self.node_problems.setVisible(bool(general))

    # -- edits ------------------------------------------------------------------------------

    def send(self, kind: str, **args: Any) -> Any:
        """Run one command; a refused edit is shown above the form and the form redrawn."""
        try:
            result = self.document.execute(kind, **args)
        except CommandError as err:
            self.error.setText(str(err))
            self.error.show()
            self._rebuild(force=True)
            return None
        self.error.hide()
        self.document.seal()
        if kind == "rename_node":
            self.document.selection.select([result])
        return result

    def set_param(self, name: str, value: Any, *, delete: bool = False) -> None:
        """Set (or remove) one param of the shown node."""
        if self.node_id is not None:
            self.send("set_param", node=self.node_id, name=name, value=value, delete=delete)

    def set_value(self, node_id: str, path: str, value: Any) -> None:
        """Put a picked selector or captured target at `path` (`$.params.target`, as requested)."""
        parts = parse_json_path(path)
        if parts[:1] != ("params",) or len(parts) < 2:
            raise ValueError(f"{path} is not inside a node's params")
        params = self.document.node(node_id).get("params") or {}
        name = str(parts[1])
        updated = _put(params.get(name), parts[2:], value)
        self.send("set_param", node=node_id, name=name, value=updated)


def _put(container: Any, parts: tuple[str | int, ...], value: Any) -> Any:
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(head, int):
        items = list(container) if isinstance(container, list) else []
        items[head] = _put(items[head], rest, value)
        return items
    mapping = dict(container) if isinstance(container, dict) else {}
    mapping[head] = _put(mapping.get(head), rest, value)
    return mapping


def _focusable(row: QWidget) -> list[QWidget]:
    """The widgets of a field that take the keyboard focus, in tab order of creation."""
    return [
        w
        for w in row.findChildren(QWidget)
        if w.focusPolicy() & Qt.FocusPolicy.TabFocus and w.isEnabled() and not isinstance(w, QScrollArea)
    ]


def _path(path: Path) -> str:
    return json_path(("params", *path))


def _deepest(rows: dict[Path, FieldRow], parts: tuple[str | int, ...]) -> Path | None:
    for end in range(len(parts), 0, -1):
        if parts[:end] in rows:
            return parts[:end]
    return None


def _message(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("panelMessage")
    label.setWordWrap(True)
    return label


def make_dock(document: FlowDocument, window: QMainWindow) -> QWidget:
    """The dock factory of the main window: the properties panel of `document`.

    The window may offer `credential_names()` (the orchestrator's credential names when signed in).
    """
    names = getattr(window, "credential_names", None)
    return PropertiesPanel(document, credential_names=names if callable(names) else None)

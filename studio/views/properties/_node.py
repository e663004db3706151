"""The node-level part of the properties form: id, title, disabled, retry, timeout, on-error.

Each committed edit is one command: `rename_node` for the id, `set_node_settings` for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

ON_ERROR = (
    ("fail", "Fail the flow"),
    ("continue", "Continue with the next node"),
    ("fallback", "Follow the error port"),
)


class NodeSettings(QGroupBox):
    """The settings every node has, whatever its step.

    Args:
        node: the raw node object (read only).
        send: `send(kind, **args)` runs one command on the document.
    """

    def __init__(self, node: dict[str, Any], send: Callable[..., Any], parent: QWidget | None = None) -> None:
        super().__init__("Node", parent)
        self.node_id = str(node.get("id"))
        self.send = send
        form = QFormLayout(self)
        self.type_label = QLabel(str(node.get("type")))
        form.addRow("Step", self.type_label)
        self.id_edit = QLineEdit(self.node_id)
        self.id_edit.setObjectName("nodeId")
        self.id_edit.editingFinished.connect(self._rename)
        form.addRow("Id", self.id_edit)
        self.title_edit = QLineEdit(node.get("name") if isinstance(node.get("name"), str) else "")
        self.title_edit.setObjectName("nodeTitle")
        self.title_edit.setPlaceholderText(self.node_id)
        self.title_edit.editingFinished.connect(
            lambda: self._setting("name", self.title_edit.text() or None, node.get("name") or None)
        )
        form.addRow("Title", self.title_edit)
        self.disabled = QCheckBox("Skip this node when the flow runs")
        self.disabled.setObjectName("nodeDisabled")
        self.disabled.setChecked(node.get("disabled") is True)
        self.disabled.clicked.connect(
            lambda checked: self.send("set_node_settings", node=self.node_id, disabled=checked)
        )
        form.addRow("Disabled", self.disabled)
        self._retry_rows(form, node.get("retry"))
        timeout = node.get("timeout_s")
        self.timeout = QDoubleSpinBox()
        self.timeout.setObjectName("nodeTimeout")
        self.timeout.setRange(0, 86400)
        self.timeout.setSpecialValueText("no limit")
        self.timeout.setSuffix(" s")
        self.timeout.setValue(float(timeout) if isinstance(timeout, int | float) else 0)
        self.timeout.editingFinished.connect(
            lambda: self._setting("timeout_s", self.timeout.value() or None, node.get("timeout_s"))
        )
        form.addRow("Timeout", self.timeout)
        self.on_error = QComboBox()
        self.on_error.setObjectName("nodeOnError")
        for value, text in ON_ERROR:
            self.on_error.addItem(text, value)
        current = node.get("on_error", "fail")
        self.on_error.setCurrentIndex(
            max(0, [v for v, _ in ON_ERROR].index(current) if current in dict(ON_ERROR) else 0)
        )
        self.on_error.activated.connect(
            lambda index: self._setting("on_error", ON_ERROR[index][0], node.get("on_error", "fail"))
        )
        form.addRow("On error", self.on_error)

    def _retry_rows(self, form: QFormLayout, retry: Any) -> None:
        retry = retry if isinstance(retry, dict) else {}
        self.attempts = QSpinBox()
        self.attempts.setObjectName("retryAttempts")
        self.attempts.setRange(1, 100)
        self.attempts.setSpecialValueText("no retry")
        self.attempts.setValue(int(retry.get("max_attempts", 1)))
        self.backoff = QDoubleSpinBox()
        self.backoff.setObjectName("retryBackoff")
        self.backoff.setRange(0, 3600)
        self.backoff.setSuffix(" s")
        self.backoff.setValue(float(retry.get("backoff_s", 1.0)))
        self.attempts.editingFinished.connect(lambda: self._retry(retry))
        self.backoff.editingFinished.connect(lambda: self._retry(retry))
        form.addRow("Attempts", self.attempts)
        form.addRow("Backoff", self.backoff)

    def _retry(self, before: dict[str, Any]) -> None:
        attempts, backoff = self.attempts.value(), self.backoff.value()
        if attempts <= 1:
            if before:
                self.send("set_node_settings", node=self.node_id, retry=None)
            return
        retry = {**before, "max_attempts": attempts, "backoff_s": backoff}
        if retry != before:
            self.send("set_node_settings", node=self.node_id, retry=retry)

    def _setting(self, key: str, value: Any, before: Any) -> None:
        if value != before:
            self.send("set_node_settings", node=self.node_id, **{key: value})

    def _rename(self) -> None:
        new = self.id_edit.text().strip()
        if new and new != self.node_id:
            self.send("rename_node", node=self.node_id, new=new)


def _shared(nodes: list[dict[str, Any]], key: str, default: Any = None) -> tuple[bool, Any]:
    """(all equal, the value) of one setting across nodes."""
    values = [node.get(key, default) for node in nodes]
    return all(v == values[0] for v in values), values[0]


class SharedSettings(QGroupBox):
    """The settings several selected nodes share: disabled, on error, timeout; a commit sets
    them on every node in one `set_nodes_settings` (one undo step). A mixed value shows as such."""

    def __init__(self, nodes: list[dict[str, Any]], send: Callable[..., Any], parent: QWidget | None = None) -> None:
        super().__init__(f"{len(nodes)} nodes", parent)
        self.ids = [str(node.get("id")) for node in nodes]
        self.send = send
        form = QFormLayout(self)
        same, disabled = _shared(nodes, "disabled", False)
        self.disabled = QCheckBox("Skip these nodes when the flow runs")
        self.disabled.setObjectName("sharedDisabled")
        self.disabled.setTristate(not same)
        self.disabled.setCheckState(
            Qt.CheckState.PartiallyChecked
            if not same
            else Qt.CheckState.Checked
            if disabled
            else Qt.CheckState.Unchecked
        )
        self.disabled.clicked.connect(lambda _checked=False: self._disabled())
        form.addRow("Disabled", self.disabled)
        same, on_error = _shared(nodes, "on_error", "fail")
        self.on_error = QComboBox()
        self.on_error.setObjectName("sharedOnError")
        for value, text in ON_ERROR:
            self.on_error.addItem(text, value)
        if not same:
            self.on_error.insertItem(0, "(mixed)", None)
        self.on_error.setCurrentIndex(0 if not same else [v for v, _ in ON_ERROR].index(on_error))
        self.on_error.activated.connect(self._on_error)
        form.addRow("On error", self.on_error)
        same, timeout = _shared(nodes, "timeout_s")
        self.timeout = QDoubleSpinBox()
        self.timeout.setObjectName("sharedTimeout")
        self.timeout.setRange(0, 86400)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("no limit" if same else "(mixed)")
        self.timeout.setValue(float(timeout) if same and isinstance(timeout, int | float) else 0)
        self._timeout_shown = self.timeout.value()
        self.timeout.editingFinished.connect(self._timeout)
        form.addRow("Timeout", self.timeout)

    def _disabled(self) -> None:
        # A click on a mixed box makes it checked: every node skipped.
        checked = self.disabled.checkState() != Qt.CheckState.Unchecked
        self.send("set_nodes_settings", ids=self.ids, disabled=checked)

    def _on_error(self, index: int) -> None:
        value = self.on_error.itemData(index)
        if value is not None:
            self.send("set_nodes_settings", ids=self.ids, on_error=value)

    def _timeout(self) -> None:
        if self.timeout.value() != self._timeout_shown:
            self._timeout_shown = self.timeout.value()
            self.send("set_nodes_settings", ids=self.ids, timeout_s=self.timeout.value() or None)

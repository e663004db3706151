"""The flow's settings: name, what it requires, priority, concurrency, timeout, and its attended
settings (the hotkey the tray starts it with), edited through `set_flow_settings`."""

from __future__ import annotations

from typing import Any, get_args

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from shared.flow._model import Priority
from studio.model import CommandError, FlowChanged, FlowDocument

PRIORITIES: tuple[str, ...] = get_args(Priority)


def capabilities(document: FlowDocument) -> list[str]:
    """The capabilities a flow may require: those the step catalogue names, and any already in
    the file."""
    known = {d.capability for d in document.registry if d.capability}
    requires = document.raw.get("requires")
    if isinstance(requires, list):
        known.update(r for r in requires if isinstance(r, str))
    return sorted(known)


class FlowSettingsPanel(QWidget):
    """The flow-level settings form."""

    def __init__(self, document: FlowDocument, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("flowSettingsPanel")
        self.document = document
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.name = QLineEdit()
        self.description = QLineEdit()
        self.requires_box = QWidget()
        self.requires_layout = QHBoxLayout(self.requires_box)
        self.requires_layout.setContentsMargins(0, 0, 0, 0)
        self.requires: dict[str, QCheckBox] = {}
        self.priority = QComboBox()
        self.priority.addItems(list(PRIORITIES))
        self.max_concurrent = QSpinBox()
        self.max_concurrent.setRange(0, 10_000)
        self.max_concurrent.setSpecialValueText("unlimited")
        self.max_parallel = QSpinBox()
        self.max_parallel.setRange(1, 1024)
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0, 7 * 86400)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("no limit")
        self.hotkey = QLineEdit()
        self.hotkey.setPlaceholderText("e.g. ctrl+alt+i")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Description", self.description)
        form.addRow("Requires", self.requires_box)
        form.addRow("Priority", self.priority)
        form.addRow("Max concurrent runs", self.max_concurrent)
        form.addRow("Max parallel steps", self.max_parallel)
        form.addRow("Timeout", self.timeout)
        attended = QGroupBox("Attended (shown for the tray)")
        attended_form = QFormLayout(attended)
        attended_form.addRow("Hotkey", self.hotkey)
        attended_form.addRow(QLabel("The tray starts this flow when the hotkey is pressed on an attended agent."))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(attended)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.name.editingFinished.connect(lambda: self._text("name", self.name.text(), allow_empty=False))
        self.description.editingFinished.connect(lambda: self._text("description", self.description.text()))
        self.priority.activated.connect(lambda index: self._set("priority", PRIORITIES[index]))
        self.max_concurrent.editingFinished.connect(
            lambda: self._set("max_concurrent_executions", self.max_concurrent.value() or None)
        )
        self.max_parallel.editingFinished.connect(lambda: self._set("max_parallel_nodes", self.max_parallel.value()))
        self.timeout.editingFinished.connect(lambda: self._set("timeout_s", self.timeout.value() or None))
        self.hotkey.editingFinished.connect(lambda: self._set("hotkey", self.hotkey.text().strip() or None))
        disconnect = document.events.connect(FlowChanged, lambda _event: self.refresh())
        self.destroyed.connect(lambda: disconnect())
        self.refresh()

    def settings(self) -> dict[str, Any]:
        """The `settings` object of the document."""
        found = self.document.raw.get("settings")
        return found if isinstance(found, dict) else {}

    def current(self, key: str) -> Any:
        """A setting's value in the document (top-level or under `settings`)."""
        return self.document.raw.get(key) if key in ("name", "description", "requires") else self.settings().get(key)

    def refresh(self) -> None:
        """Redraw from the document."""
        raw, settings = self.document.raw, self.settings()
        self.name.setText(str(raw.get("name", "")))
        self.description.setText(str(raw.get("description", "")))
        self._requires_boxes()
        priority = settings.get("priority", "normal")
        self.priority.setCurrentIndex(PRIORITIES.index(priority) if priority in PRIORITIES else 1)
        self.max_concurrent.setValue(_int(settings.get("max_concurrent_executions"), 0))
        self.max_parallel.setValue(_int(settings.get("max_parallel_nodes"), 8))
        timeout = settings.get("timeout_s")
        self.timeout.setValue(float(timeout) if isinstance(timeout, int | float) else 0)
        self.hotkey.setText(str(settings.get("hotkey") or ""))

    def _requires_boxes(self) -> None:
        for box in self.requires.values():
            self.requires_layout.removeWidget(box)
            box.deleteLater()
        requires = self.current("requires")
        chosen = set(requires) if isinstance(requires, list) else set()
        self.requires = {}
        for name in capabilities(self.document):
            box = QCheckBox(name)
            box.setChecked(name in chosen)
            box.clicked.connect(lambda _checked=False: self._requires_changed())
            self.requires[name] = box
            self.requires_layout.addWidget(box)

    def _requires_changed(self) -> None:
        chosen = [name for name, box in self.requires.items() if box.isChecked()]
        self._set("requires", chosen or None)

    def _text(self, key: str, text: str, *, allow_empty: bool = True) -> None:
        if text or allow_empty:
            self._set(key, text if text or key == "name" else None)

    def _set(self, key: str, value: Any) -> None:
        if value == self.current(key):
            return
        try:
            self.document.execute("set_flow_settings", **{key: value})
        except CommandError as err:
            self.error.setText(str(err))
            self.error.show()
            self.refresh()
            return
        self.document.seal()
        self.error.hide()


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default

"""The field widgets of the properties form, one per kind of `_schema.FieldSpec`.

Every editor emits `changed(value)` with the whole new value of its field when an edit is
committed (editingFinished, a click, a choice): nested editors (objects, lists, maps) rebuild
their own value from a child's and pass it up, so the panel makes ONE `set_param` per commit.
A `FieldRow` wraps an editor with its label, a switch to an expression, a reset button, and the
problems the validator found at its path. A value the widget cannot show (a broken file) is
shown as raw JSON and left as it is until the designer edits it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shared.expressions import is_template
from studio.views.properties._expression import ExpressionEdit
from studio.views.properties._schema import FieldSpec, alternative_title, choose, fits, initial

Path = tuple[str | int, ...]
_INT_LIMIT = 2**31 - 1


@dataclass
class FormContext:
    """What the fields of one form share: completion, credential names, pick/capture requests,
    and the registry of rows by path (to place the validator's problems)."""

    words: Callable[[], list[str]] = list
    credential_names: Callable[[], list[str]] = list
    request_pick: Callable[[Path], None] = lambda path: None
    request_capture: Callable[[Path], None] = lambda path: None
    rows: dict[Path, FieldRow] = field(default_factory=dict)


class Editor(QWidget):
    """Base of the field editors: `changed(value)` on a committed edit."""

    changed = Signal(object)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class TextEditor(Editor):
    """One line of text; an empty optional field means "not set" (None)."""

    def __init__(self, spec: FieldSpec, value: Any, *, buttons: tuple[QPushButton, ...] = ()) -> None:
        super().__init__()
        self.spec = spec
        self.line = QLineEdit(self)
        self.line.setText(value if isinstance(value, str) else "")
        if spec.has_default and isinstance(spec.default, str):
            self.line.setPlaceholderText(spec.default)
        self._shown = self.line.text()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line)
        for button in buttons:
            layout.addWidget(button)
        self.line.editingFinished.connect(self._finished)

    def _finished(self) -> None:
        text = self.line.text()
        if text == self._shown:
            return
        self._shown = text
        self.changed.emit(None if text == "" and not self.spec.required else text)


class FileEditor(TextEditor):
    """A path, with a button opening a file dialog."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        browse = QPushButton("…")
        browse.setToolTip("Choose a file")
        super().__init__(spec, value, buttons=(browse,))
        browse.clicked.connect(self._browse)

    def _browse(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, f"Choose {self.spec.label().lower()}", self.line.text())
        if chosen:
            self.line.setText(chosen)
            self._finished()


class CredentialEditor(Editor):
    """A credential name: an editable combo of the names the hook lists."""

    def __init__(self, spec: FieldSpec, value: Any, names: list[str]) -> None:
        super().__init__()
        self.spec = spec
        self.combo = QComboBox(self)
        self.combo.setEditable(True)
        self.combo.addItems(names)
        self.combo.setEditText(value if isinstance(value, str) else "")
        self._shown = self.combo.currentText()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        self.combo.activated.connect(lambda index: self._finished(self.combo.itemText(index)))
        line = self.combo.lineEdit()
        if line is not None:
            line.editingFinished.connect(lambda: self._finished(self.combo.currentText()))

    def _finished(self, text: str) -> None:
        if text != self._shown:
            self._shown = text
            self.changed.emit(text or None)


class BoolEditor(Editor):
    """A check box."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        super().__init__()
        self.box = QCheckBox(self)
        self.box.setChecked(bool(value if value is not None else spec.default))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        self.box.clicked.connect(lambda checked: self.changed.emit(bool(checked)))


class NumberEditor(Editor):
    """A spin box with the schema's bounds (integer or decimal). An optional number without a
    default has one step below its range shown as "(not set)", which stores nothing."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        super().__init__()
        self.spec = spec
        self.box: QSpinBox | QDoubleSpinBox
        self.unset = not spec.required and spec.default is None
        if spec.kind == "int":
            box = QSpinBox(self)
            low = int(spec.minimum) if spec.minimum is not None else -_INT_LIMIT + 1
            high = int(spec.maximum) if spec.maximum is not None else _INT_LIMIT
            box.setRange(low - 1 if self.unset else low, high)
            self.box = box
        else:
            dbox = QDoubleSpinBox(self)
            dbox.setDecimals(3)
            low_f = spec.minimum if spec.minimum is not None else -1e12
            if spec.extra.get("exclusive_minimum"):
                low_f += 0.001
            dbox.setRange(low_f - 1 if self.unset else low_f, spec.maximum if spec.maximum is not None else 1e12)
            self.box = dbox
        if self.unset:
            self.box.setSpecialValueText("(not set)")
        shown = value if isinstance(value, int | float) else spec.default
        if isinstance(shown, int | float):
            self.box.setValue(shown)  # type: ignore[arg-type]
        elif self.unset:
            self.box.setValue(self.box.minimum())  # type: ignore[arg-type]
        self._shown = self.box.value()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.box)
        self.box.editingFinished.connect(self._finished)

    def _finished(self) -> None:
        value = self.box.value()
        if value == self._shown:
            return
        self._shown = value
        if self.unset and value == self.box.minimum():
            self.changed.emit(None)
        else:
            self.changed.emit(int(value) if self.spec.kind == "int" else float(value))


class EnumEditor(Editor):
    """A combo of the allowed values (and "(not set)" for an optional field)."""

    def __init__(self, spec: FieldSpec, value: Any) -> None:
        super().__init__()
        self.combo = QComboBox(self)
        self.values: list[Any] = list(spec.enum)
        if spec.nullable or not spec.required:
            self.values.insert(0, None)
        for item in self.values:
            self.combo.addItem("(not set)" if item is None else str(item))
        current = value if value is not None else spec.default
        self.combo.setCurrentIndex(self.values.index(current) if current in self.values else 0)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        self.combo.activated.connect(lambda index: self.changed.emit(self.values[index]))


class JsonEditor(Editor):
    """Any JSON value as compact text; text that is not JSON is refused with a message."""

    def __init__(self, spec: FieldSpec, value: Any, *, note: str = "", buttons: tuple[QPushButton, ...] = ()) -> None:
        super().__init__()
        self.line = QLineEdit(self)
        self.line.setObjectName("rawJson")
        self.line.setText(_compact(value) if value is not None else "")
        self.line.setPlaceholderText("JSON value")
        self._shown = self.line.text()
        self.message = QLabel(note, self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b9770e;")
        self.message.setVisible(bool(note))
        line = QHBoxLayout()
        line.addWidget(self.line)
        for button in buttons:
            line.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(line)
        layout.addWidget(self.message)
        self.line.editingFinished.connect(self._finished)

    def _finished(self) -> None:
        text = self.line.text().strip()
        if text == self._shown:
            return
        try:
            value = json.loads(text) if text else None
        except ValueError as err:
            self.message.setText(f"not JSON: {err}")
            self.message.show()
            return
        self._shown = text
        self.message.hide()
        self.changed.emit(value)


class ObjectEditor(Editor):
    """A group of child fields; a child's edit becomes the whole object's value."""

    def __init__(self, spec: FieldSpec, value: Any, path: Path, context: FormContext) -> None:
        super().__init__()
        self.value: dict[str, Any] = dict(value) if isinstance(value, dict) else {}
        box = QGroupBox(self)
        form = QVBoxLayout(box)
        form.setContentsMargins(6, 6, 6, 6)
        for child in spec.children:
            row = FieldRow(child, self.value.get(child.name), child.name in self.value, (*path, child.name), context)
            row.committed.connect(lambda v, name=child.name: self._child(name, v))
            row.reset.connect(lambda name=child.name: self._child(name, None, remove=True))
            form.addWidget(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box)

    def _child(self, name: str, value: Any, *, remove: bool = False) -> None:
        updated = dict(self.value)
        if remove:
            updated.pop(name, None)
        else:
            updated[name] = value
        self.value = updated
        self.changed.emit(updated)


class ListEditor(Editor):
    """Rows of item fields with remove buttons, and an Add button."""

    def __init__(self, spec: FieldSpec, value: Any, path: Path, context: FormContext) -> None:
        super().__init__()
        assert spec.item is not None
        self.item = replace(spec.item, required=True)  # a row holds a value: no "(not set)"
        self.value: list[Any] = list(value) if isinstance(value, list) else []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for position, item in enumerate(self.value):
            line = QHBoxLayout()
            row = FieldRow(self.item, item, True, (*path, position), context, label=f"{position + 1}.")
            row.committed.connect(lambda v, at=position: self._set(at, v))
            remove = QToolButton()
            remove.setText("✕")
            remove.setObjectName("removeRow")
            remove.setToolTip("Remove this row")
            remove.clicked.connect(lambda _checked=False, at=position: self._remove(at))
            line.addWidget(row, 1)
            line.addWidget(remove)
            layout.addLayout(line)
        self.add = QPushButton("Add", self)
        self.add.setObjectName("addRow")
        self.add.clicked.connect(lambda: self._emit([*self.value, initial(self.item)]))
        layout.addWidget(self.add)

    def _set(self, at: int, value: Any) -> None:
        updated = list(self.value)
        updated[at] = value
        self._emit(updated)

    def _remove(self, at: int) -> None:
        self._emit([v for n, v in enumerate(self.value) if n != at])

    def _emit(self, updated: list[Any]) -> None:
        self.value = updated
        self.changed.emit(updated)


class MapEditor(Editor):
    """Key/value rows (an object with free keys, e.g. HTTP headers)."""

    def __init__(self, spec: FieldSpec, value: Any, path: Path, context: FormContext) -> None:
        super().__init__()
        assert spec.item is not None
        self.item = replace(spec.item, required=True)  # a row holds a value: no "(not set)"
        self.value: dict[str, Any] = dict(value) if isinstance(value, dict) else {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for key, item in self.value.items():
            line = QHBoxLayout()
            name = QLineEdit(key)
            name.setObjectName("mapKey")
            name.editingFinished.connect(lambda old=key, edit=name: self._rename(old, edit.text()))
            row = FieldRow(self.item, item, True, (*path, key), context, label="")
            row.committed.connect(lambda v, at=key: self._emit({**self.value, at: v}))
            remove = QToolButton()
            remove.setText("✕")
            remove.clicked.connect(lambda _checked=False, at=key: self._emit(_without(self.value, at)))
            line.addWidget(name)
            line.addWidget(row, 1)
            line.addWidget(remove)
            layout.addLayout(line)
        add = QPushButton("Add", self)
        add.setObjectName("addRow")
        add.clicked.connect(self._add)
        layout.addWidget(add)

    def _add(self) -> None:
        key, number = "name", 2
        while key in self.value:
            key, number = f"name_{number}", number + 1
        self._emit({**self.value, key: initial(self.item)})

    def _rename(self, old: str, new: str) -> None:
        if new and new != old and new not in self.value:
            self._emit({new if k == old else k: v for k, v in self.value.items()})

    def _emit(self, updated: dict[str, Any]) -> None:
        self.value = updated
        self.changed.emit(updated)


def _without(value: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != key}


class ChoiceEditor(Editor):
    """One of several shapes (`anyOf`): a combo to switch, and the chosen shape's editor."""

    def __init__(self, spec: FieldSpec, value: Any, path: Path, context: FormContext) -> None:
        super().__init__()
        self.spec = spec
        self.combo = QComboBox(self)
        self.options: list[FieldSpec | None] = list(spec.alternatives)
        if spec.nullable or not spec.required:
            self.options.insert(0, None)
        self.combo.addItems(["(not set)" if a is None else alternative_title(a) for a in self.options])
        chosen = choose(spec, value) if value is not None else None
        current = spec.alternatives[chosen] if chosen is not None else self.options[0]
        self.combo.setCurrentIndex(self.options.index(current))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        if current is not None:
            self.inner = make_editor(current, value if chosen is not None else None, path, context)
            self.inner.changed.connect(self.changed.emit)
            layout.addWidget(self.inner)
        self.combo.activated.connect(self._switch)

    def _switch(self, index: int) -> None:
        option = self.options[index]
        self.changed.emit(None if option is None else initial(option))


def _button(text: str, name: str, callback: Callable[[], None]) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.clicked.connect(lambda _checked=False: callback())
    return button


def make_editor(spec: FieldSpec, value: Any, path: Path, context: FormContext) -> Editor:
    """The editor widget of one field kind."""
    kind = spec.kind
    if kind == "selector":
        pick = _button("Pick element", "pickElement", lambda: context.request_pick(path))
        if isinstance(value, dict):  # a recorded target descriptor (selector, fallbacks, fingerprint)
            return JsonEditor(spec, value, buttons=(pick,))
        return TextEditor(spec, value, buttons=(pick,))
    if kind == "image_target":
        capture = _button("Capture region", "captureRegion", lambda: context.request_capture(path))
        return TextEditor(spec, value, buttons=(capture,))
    simple: dict[str, Callable[[], Editor]] = {
        "text": lambda: TextEditor(spec, value),
        "file": lambda: FileEditor(spec, value),
        "credential": lambda: CredentialEditor(spec, value, context.credential_names()),
        "bool": lambda: BoolEditor(spec, value),
        "int": lambda: NumberEditor(spec, value),
        "float": lambda: NumberEditor(spec, value),
        "enum": lambda: EnumEditor(spec, value),
        "object": lambda: ObjectEditor(spec, value, path, context),
        "list": lambda: ListEditor(spec, value, path, context),
        "map": lambda: MapEditor(spec, value, path, context),
        "choice": lambda: ChoiceEditor(spec, value, path, context),
    }
    return simple.get(kind, lambda: JsonEditor(spec, value))()


class FieldRow(QWidget):
    """A field with its label, expression switch, reset button and problems.

    Signals:
        committed(value): the field's new value.
        reset(): the field goes back to its default (the param is removed).
    """

    committed = Signal(object)
    reset = Signal()

    def __init__(
        self,
        spec: FieldSpec,
        value: Any,
        present: bool,
        path: Path,
        context: FormContext,
        *,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.spec, self.path, self.context = spec, path, context
        self.value, self.present = value, present
        context.rows[path] = self
        self.setObjectName("field:" + ".".join(map(str, path)))
        self.expression_mode = isinstance(value, str) and is_template(value)
        self.raw = present and not self.expression_mode and not fits(spec, value)
        compact = label is not None  # a row of a list or map: label, editor and switch on one line
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(spec.label() + (" *" if spec.required else "") if label is None else label)
        self.label.setToolTip(spec.description)
        self.setToolTip(spec.description)
        if not compact or label:
            header.addWidget(self.label, 0 if compact else 1)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        if compact:
            header.addLayout(self.body, 1)
        if present and not spec.required and not compact:
            clear = QToolButton()
            clear.setText("↺")
            clear.setObjectName("resetField")
            clear.setToolTip("Back to the default (remove the value)")
            clear.clicked.connect(lambda _checked=False: self.reset.emit())
            header.addWidget(clear)
        self.fx = QToolButton()
        self.fx.setText("ƒx")
        self.fx.setObjectName("expressionSwitch")
        self.fx.setCheckable(True)
        self.fx.setChecked(self.expression_mode)
        self.fx.setToolTip("Use an expression ({{ … }}) for this field")
        self.fx.toggled.connect(self.set_expression_mode)
        header.addWidget(self.fx)
        self.problems = QLabel()
        self.problems.setObjectName("fieldProblems")
        self.problems.setStyleSheet("color: #c0392b;")
        self.problems.setWordWrap(True)
        self.problems.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        layout.addLayout(header)
        if not compact:
            layout.addLayout(self.body)
        layout.addWidget(self.problems)
        self.editor: QWidget = self._build()
        self.body.addWidget(self.editor)

    def _build(self) -> QWidget:
        if self.expression_mode:
            expression = ExpressionEdit(self.context.words)
            # A plain text value is the start of the expression (it stays text until edited).
            expression.set_text(self.value if isinstance(self.value, str) and self.present else "")
            expression.committed.connect(self._commit)
            return expression
        if self.spec.kind == "object" and not self.present and not self.spec.required:
            # An optional group not in the file: a button rather than fields showing made-up values.
            start = QPushButton(f"Set {self.spec.label().lower()}")
            start.setObjectName("setGroup")
            start.clicked.connect(lambda _checked=False: self.committed.emit(initial(self.spec)))
            return start
        if self.raw:
            note = f"kept as it is in the file (not a valid {self.spec.kind} value)"
            editor: Editor = JsonEditor(self.spec, self.value, note=note)
        else:
            editor = make_editor(self.spec, self.value if self.present else None, self.path, self.context)
        editor.changed.connect(self._commit)
        return editor

    def _commit(self, value: Any) -> None:
        if value is None and not self.spec.required:
            self.reset.emit()
        else:
            self.committed.emit(value)

    def set_expression_mode(self, on: bool) -> None:
        """Switch between the field's widget and the expression editor (no edit by itself)."""
        if on == self.expression_mode:
            return
        self.expression_mode = on
        self.body.removeWidget(self.editor)
        self.editor.hide()
        self.editor.deleteLater()
        self.editor = self._build()
        self.body.addWidget(self.editor)

    def show_problems(self, messages: list[str]) -> None:
        """Show the validator's problems about this field (empty: hide)."""
        self.problems.setText("\n".join(messages))
        self.problems.setVisible(bool(messages))

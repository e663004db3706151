"""The run form: fields from a flow's inputs, defaults, validation next to the field, masked passwords."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDateEdit, QLabel, QLineEdit  # noqa: TID253

from studio.widgets.forms import RunForm, RunFormDialog, field_kind

INPUTS: dict[str, Any] = {
    "customer": {"type": "string", "required": True, "description": "Who is billed"},
    "password": {"type": "string", "required": True},
    "amount": {"type": "number", "default": 12.5},
    "count": {"type": "integer"},
    "due_date": {"type": "string", "default": "2026-12-07"},
    "region": {"type": "string", "enum": ["north", "south"], "default": "south"},
    "urgent": {"type": "boolean", "default": True},
    "invoice_file": {"type": "string"},
    "lines": {"type": "array"},
}


def _edit(form: RunForm, name: str) -> QLineEdit:
    widget = form.fields[name].widget
    return widget if isinstance(widget, QLineEdit) else widget.findChild(QLineEdit)


def test_each_input_gets_its_kind_of_field_with_its_default(qtbot: Any) -> None:
    form = RunForm(INPUTS)
    qtbot.addWidget(form)
    kinds = {name: f.kind for name, f in form.fields.items()}
    assert kinds == {
        "customer": "text",
        "password": "password",
        "amount": "number",
        "count": "integer",
        "due_date": "date",
        "region": "choice",
        "urgent": "checkbox",
        "invoice_file": "file",
        "lines": "json",
    }
    assert isinstance(form.fields["due_date"].widget, QDateEdit)
    assert isinstance(form.fields["region"].widget, QComboBox)
    assert isinstance(form.fields["urgent"].widget, QCheckBox)
    assert _edit(form, "password").echoMode() == QLineEdit.EchoMode.Password
    assert _edit(form, "amount").text() == "12.5"
    assert form.fields["customer"].widget.toolTip() == "Who is billed"
    assert field_kind("x", {"type": "string", "format": "password"}) == "password"
    assert field_kind("api_token", {"type": "string"}) == "password"


def test_bad_and_missing_values_are_reported_next_to_their_field(qtbot: Any) -> None:
    form = RunForm(INPUTS)
    qtbot.addWidget(form)
    form.show()
    _edit(form, "count").setText("2.5")
    _edit(form, "lines").setText("{not json")

    assert form.values() is None
    errors = form.errors()
    assert errors == {
        "customer": "required",
        "password": "required",
        "count": "'2.5' is not a whole number",
        "lines": errors["lines"],
    }
    assert errors["lines"].startswith("not JSON")
    label = form.findChild(QLabel, "error-count")
    assert label is not None
    assert label.isVisible()
    assert label.text() == "'2.5' is not a whole number"
    assert not form.findChild(QLabel, "error-amount").isVisible()

    _edit(form, "lines").setText('{"a": 1}')
    assert form.errors()["lines"] == "expected a JSON array"


def test_valid_values_come_back_typed_and_the_password_is_never_shown(
    qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    form = RunForm(INPUTS)
    qtbot.addWidget(form)
    _edit(form, "customer").setText("ACME")
    _edit(form, "password").setText("hunter2-secret")
    _edit(form, "count").setText("3")
    _edit(form, "lines").setText("[1, 2]")
    _edit(form, "invoice_file").setText("/tmp/invoice.pdf")

    values = form.values()

    assert values == {
        "customer": "ACME",
        "password": "hunter2-secret",
        "amount": 12.5,
        "count": 3,
        "due_date": "2026-12-07",
        "region": "south",
        "urgent": True,
        "invoice_file": "/tmp/invoice.pdf",
        "lines": [1, 2],
    }
    assert _edit(form, "password").displayText() != "hunter2-secret"
    assert "hunter2" not in repr(form)
    assert "hunter2" not in caplog.text


def test_the_dialog_stays_open_until_the_form_is_valid(qtbot: Any) -> None:
    dialog = RunFormDialog({"name": {"type": "string", "required": True}})
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.accept()
    assert dialog.isVisible()
    assert dialog.result_values is None
    _edit(dialog.form, "name").setText("Ann")
    dialog.accept()
    assert not dialog.isVisible()
    assert dialog.result_values == {"name": "Ann"}

"""The dialog host: who shows an attended run's dialogs to its person.

Dialog steps (`agent/steps/dialog/`) build a `DialogRequest` and await `host.ask(request)`. The
tray registers a host that shows it on its UI thread; a test registers one that answers at once.
A headless agent has none: a step then uses the default its node declares, or fails with kind
`no_dialog_host`. Only one host is registered per process (the tray's).

A host returns the answer in the step's output form (see each kind below) or raises
`DialogCancelled` when the person closes the dialog. It need not validate: the step checks every
answer (`check_answer`) and refuses a wrong one with a `StepError` kind `invalid_answer`.

| kind            | answer                                                          |
|-----------------|-----------------------------------------------------------------|
| `message`       | None (acknowledged)                                             |
| `confirm`       | bool                                                            |
| `input`         | {field name: value}: text, password, number, date (ISO), choice, checkbox (bool), file (path) |
| `choose_file`   | a path (str)                                                    |
| `choose_folder` | a path (str)                                                    |
| `select`        | one option (str), or a list of them when `multiple`             |
| `review_table`  | the table, as reviewed (and edited when `editable`)             |
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

DialogKind = Literal["message", "confirm", "input", "choose_file", "choose_folder", "select", "review_table"]
FieldType = Literal["text", "password", "number", "date", "choice", "checkbox", "file"]
FIELD_TYPES: tuple[str, ...] = ("text", "password", "number", "date", "choice", "checkbox", "file")


class DialogCancelled(Exception):
    """The person closed or cancelled the dialog."""


@dataclass(frozen=True)
class FormField:
    """One field of an input form."""

    name: str
    type: FieldType = "text"
    label: str = ""
    required: bool = False
    default: Any = None
    options: tuple[str, ...] = ()
    """For `choice`: the allowed values."""
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    """For `text`: a regular expression the whole value must match."""


@dataclass(frozen=True)
class DialogRequest:
    """What a dialog step asks its person."""

    kind: DialogKind
    title: str
    message: str = ""
    fields: tuple[FormField, ...] = ()
    options: tuple[str, ...] = ()
    multiple: bool = False
    table: list[dict[str, Any]] = field(default_factory=list)
    editable: bool = False
    filters: tuple[str, ...] = ()
    """For `choose_file`: glob patterns, e.g. `*.xlsx`."""
    timeout_s: float | None = None
    execution_id: str = ""
    path: str = ""
    """The node instance asking (its path in the execution)."""


class DialogHost(Protocol):
    """Shows dialogs to the person at this machine."""

    async def ask(self, request: DialogRequest) -> Any:
        """Show `request`; return the answer, or raise `DialogCancelled`."""
        ...


_lock = threading.Lock()
_host: DialogHost | None = None


def register_host(host: DialogHost) -> None:
    """Make `host` show the dialogs of this process's runs (the tray does, at start)."""
    global _host
    with _lock:
        _host = host


def unregister_host(host: DialogHost | None = None) -> None:
    """No host any more (only when it is still `host`, if given)."""
    global _host
    with _lock:
        if host is None or _host is host:
            _host = None


def current_host() -> DialogHost | None:
    """The registered host, or None on a headless agent."""
    return _host


def _check_number(spec: FormField, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{spec.name}: must be a number"
    if spec.minimum is not None and value < spec.minimum:
        return f"{spec.name}: must be at least {spec.minimum:g}"
    if spec.maximum is not None and value > spec.maximum:
        return f"{spec.name}: must be at most {spec.maximum:g}"
    return None


def _check_date(spec: FormField, value: Any) -> str | None:
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return f"{spec.name}: must be a date (YYYY-MM-DD)"
    return None


def _check_text(spec: FormField, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{spec.name}: must be text"
    if spec.type == "text" and spec.pattern is not None and re.fullmatch(spec.pattern, value) is None:
        return f"{spec.name}: does not match {spec.pattern}"
    return None


def _check_checkbox(spec: FormField, value: Any) -> str | None:
    return None if isinstance(value, bool) else f"{spec.name}: must be true or false"


def _check_choice(spec: FormField, value: Any) -> str | None:
    return None if value in spec.options else f"{spec.name}: must be one of {', '.join(spec.options)}"


_CHECKS = {
    "text": _check_text,
    "password": _check_text,
    "file": _check_text,
    "number": _check_number,
    "date": _check_date,
    "checkbox": _check_checkbox,
    "choice": _check_choice,
}


def check_field(spec: FormField, value: Any) -> str | None:
    """Why `value` is not a valid answer for `spec`, or None."""
    if value is None or value == "":
        return f"{spec.name}: required" if spec.required else None
    return _CHECKS[spec.type](spec, value)


def check_answers(fields: tuple[FormField, ...], answers: Any) -> list[str]:
    """Every problem of an input form's answers (empty: valid). Hosts may show them."""
    if not isinstance(answers, dict):
        return ["the answer must be an object of field values"]
    names = {f.name for f in fields}
    problems = [f"{name}: not a field of this form" for name in answers if name not in names]
    for spec in fields:
        problem = check_field(spec, answers.get(spec.name))
        if problem is not None:
            problems.append(problem)
    return problems

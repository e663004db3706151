"""docs/steps/ocr.md: every step documented, its params tables generated from the models.

Run with `RPA_UPDATE_DOCS=1` to rewrite the tables after changing a params model.
"""

from __future__ import annotations

import os
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from agent.steps.ocr import OCR_STEPS

DOC = Path(__file__).resolve().parents[4] / "docs" / "steps" / "ocr.md"
_TABLE = re.compile(r"(<!-- params: (?P<name>[a-z_.]+) -->\n)(?P<body>.*?)(<!-- /params -->)", re.S)


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is typing.Literal:
        return " or ".join(f"`{a!r}`".replace("'", '"') for a in typing.get_args(annotation))
    if origin is dict:
        return "object"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        return "see below" if isinstance(field.default_factory(), BaseModel) else "`[]`"
    value = field.default
    if value is None or value is PydanticUndefined:
        return "empty"
    return f"`{value!r}`".replace("'", '"').replace("True", "true").replace("False", "false")


def _rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name}` | {_type(field.annotation)} | {_default(field)} | {description} |")
        nested = [a for a in typing.get_args(field.annotation) or (field.annotation,) if isinstance(a, type)]
        for sub in nested:
            if issubclass(sub, BaseModel):
                rows += _rows(sub, f"{prefix}{name}.")
    return rows


def table(model: type[BaseModel]) -> str:
    """The markdown params table of a step's model (nested models flattened as `a.b`)."""
    if not model.model_fields:
        return "No params.\n"
    head = "| param | type | default | description |\n|---|---|---|---|\n"
    return head + "\n".join(_rows(model)) + "\n"


def expected_doc(text: str) -> str:
    models = {fn.__rpa_step__.name: fn.__rpa_step__.params for fn in OCR_STEPS}
    return _TABLE.sub(lambda m: m.group(1) + table(models[m.group("name")]) + m.group(4), text)


def test_every_step_has_a_section_and_a_generated_table():
    text = DOC.read_text(encoding="utf-8")
    for fn in OCR_STEPS:
        name = fn.__rpa_step__.name
        assert f"### `{name}`" in text, f"{name} is not documented in {DOC}"
        assert f"<!-- params: {name} -->" in text, f"{name} has no params table in {DOC}"


def test_params_tables_are_up_to_date():
    text = DOC.read_text(encoding="utf-8")
    wanted = expected_doc(text)
    if os.environ.get("RPA_UPDATE_DOCS") == "1":
        DOC.write_text(wanted, encoding="utf-8")
    assert text == wanted, f"the params tables in {DOC} are stale: run this test with RPA_UPDATE_DOCS=1"

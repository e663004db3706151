"""Params tables of the step pages in `docs/steps/`, generated from the params models.

A page marks each table with `<!-- params: STEP -->` ... `<!-- /params -->`; `render_page`
fills them in. `python -m tests.agent.steps.docs_tables docs/steps/http.md` rewrites a page;
the docs tests fail while a page differs from what the models say.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from shared.steps import StepRegistry

BLOCK = re.compile(r"(<!-- params: (?P<name>[\w.]+) -->\n)(?P<body>.*?)(<!-- /params -->)", re.S)


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " \\| ".join(_type(s) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if kind == "object":
        return "object"
    return str(kind)


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return f"`{json.dumps(value)}`"


def params_table(model: type[BaseModel]) -> str:
    """A markdown table of a params model's fields."""
    properties = model.model_json_schema().get("properties", {})
    lines = ["| Param | Type | Default | Description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{name}` | {_type(properties.get(name, {}))} | {_default(field)} | {description} |")
    return "\n".join(lines) + "\n"


def render_page(text: str, registry: StepRegistry | None = None) -> str:
    """`text` with every params block filled from the step catalogue."""
    steps = registry or StepRegistry.default()
    return BLOCK.sub(lambda m: m.group(1) + params_table(steps.get(m.group("name")).params) + m.group(4), text)


def documented(text: str) -> set[str]:
    """The step names a page has params blocks for."""
    return {m.group("name") for m in BLOCK.finditer(text)}


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        page = Path(arg)
        page.write_text(render_page(page.read_text(encoding="utf-8")), encoding="utf-8")

"""Params tables of the step pages in `docs/steps/`, generated from the params models.

A page marks each table with `<!-- params: STEP -->` ... `<!-- /params -->` in that step's
section; `render_page` fills them in. A block may also name a model that is not a step's params
(`<!-- params: TargetSpec -->`, a nested model several steps take), passed in `models`.
`python -m tests.agent.steps.docs_tables docs/steps/PAGE.md` rewrites pages; the docs tests in
`tests/agent/steps/test_docs.py` fail while a page differs from what the models say.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
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


_LIMITS = (
    ("minimum", "≥ {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "≤ {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)


def _limit(key: str, text: str, value: Any) -> str:
    if value == 1 and key in ("minLength", "minItems"):
        return "not empty"
    if value == 1 and key in ("maxLength", "maxItems"):
        return text.format(1).rstrip("s")
    return text.format(value)


def _limits(schema: dict[str, Any]) -> list[str]:
    """The bounds a value must keep (`ge=0`, `min_length=1`), of the value or of one of its types."""
    parts = [_limit(key, text, schema[key]) for key, text in _LIMITS if key in schema]
    for option in schema.get("anyOf", []):
        parts += _limits(option)
    return parts


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
    if not model.model_fields:
        return "No params.\n"
    properties = model.model_json_schema().get("properties", {})
    lines = ["| Param | Type | Default | Description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        schema = properties.get(name, {})
        description = (field.description or "").replace("|", "\\|").replace("\n", " ")
        limits = _limits(schema)
        if limits:
            description += f" ({'; '.join(limits)})"
        lines.append(f"| `{name}` | {_type(schema)} | {_default(field)} | {description} |")
    return "\n".join(lines) + "\n"


def _model(name: str, steps: StepRegistry, models: Mapping[str, type[BaseModel]]) -> type[BaseModel]:
    return models[name] if name in models else steps.get(name).params


def render_page(
    text: str, registry: StepRegistry | None = None, models: Mapping[str, type[BaseModel]] | None = None
) -> str:
    """`text` with every params block filled from the step catalogue.

    Args:
        text: The page.
        registry: The steps to look names up in; default: every installed step.
        models: Other models a block may name (not steps), by the name used in the block.
    """
    steps = registry or StepRegistry.default()
    extra = models or {}
    return BLOCK.sub(lambda m: m.group(1) + params_table(_model(m.group("name"), steps, extra)) + m.group(4), text)


def documented(text: str) -> set[str]:
    """The step names a page has params blocks for."""
    return {m.group("name") for m in BLOCK.finditer(text)}


def _other_models() -> dict[str, type[BaseModel]]:
    from tests.agent.steps.test_docs import MODELS

    return {name: model for page in MODELS.values() for name, model in page.items()}


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        page = Path(arg)
        page.write_text(render_page(page.read_text(encoding="utf-8"), models=_other_models()), encoding="utf-8")

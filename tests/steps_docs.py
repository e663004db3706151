"""Params tables of the step pages, generated from the params models.

A page marks each generated table::

    <!-- params: excel.read -->
    | param | type | default | description |
    ...
    <!-- /params -->

`tests/agent/steps/excel/test_docs.py` fails when a table differs from the model; rewrite the
tables with::

    .venv/bin/python -m tests.steps_docs docs/steps/excel.md docs/steps/tables.md docs/steps.md
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from shared.steps import StepDefinition, StepRegistry

BLOCK = re.compile(r"<!-- params: (?P<name>[\w.]+) -->\n.*?<!-- /params -->", re.DOTALL)


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "anyOf" in schema:
        kinds = [_type(s) for s in schema["anyOf"]]
        return " or ".join(kinds)
    if "$ref" in schema:
        return "object"
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        return f"list of {_type(items)}" if items else "list"
    names = {
        "string": "text",
        "integer": "integer",
        "number": "number",
        "boolean": "boolean",
        "object": "object",
        "null": "null",
    }
    return names.get(kind, "any") if isinstance(kind, str) else "any"


def _limits(schema: dict[str, Any]) -> str:
    parts = []
    for key, text in (("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}")):
        if key in schema:
            parts.append(text.format(schema[key]))
    for key, text in (("minLength", "at least {} character"), ("maxLength", "at most {} characters")):
        if key in schema:
            parts.append(text.format(schema[key]) + ("s" if key == "minLength" and schema[key] != 1 else ""))
    if "minItems" in schema:
        parts.append(f"at least {schema['minItems']} item" + ("s" if schema["minItems"] != 1 else ""))
    for option in schema.get("anyOf", []):
        inner = _limits(option)
        if inner:
            parts.append(inner.strip(" ()"))
    return f" ({'; '.join(parts)})" if parts else ""


def params_table(definition: StepDefinition) -> str:
    """The markdown table of a step's params."""
    schema = definition.params.model_json_schema()
    required = set(schema.get("required", []))
    lines = ["| param | type | default | description |", "|-------|------|---------|-------------|"]
    for name, prop in schema.get("properties", {}).items():
        if name in required:
            default = "required"
        elif "default" in prop and prop["default"] is not None:
            default = f"`{json.dumps(prop['default'], ensure_ascii=False)}`"
        else:
            default = "none"
        description = prop.get("description", "").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type(prop)} | {default} | {description}{_limits(prop)} |")
    return "\n".join(lines)


def block(definition: StepDefinition) -> str:
    """The marked block of a step's params table."""
    return f"<!-- params: {definition.name} -->\n{params_table(definition)}\n<!-- /params -->"


def update(text: str, registry: StepRegistry) -> str:
    """`text` with every marked block regenerated."""
    return BLOCK.sub(lambda match: block(registry.get(match.group("name"))), text)


def main(paths: list[str]) -> None:
    registry = StepRegistry.default()
    for path in map(Path, paths):
        path.write_text(update(path.read_text(encoding="utf-8"), registry), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])

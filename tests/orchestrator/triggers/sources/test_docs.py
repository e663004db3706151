"""docs/triggers-sources.md lists every config field of every source as the models define them
(the page's tables are generated: run this module with RPA_WRITE_DOCS=1 to rewrite them), and
each example config on the page is accepted by its model."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from orchestrator.triggers.sources import SOURCES

PAGE = Path(__file__).resolve().parents[4] / "docs" / "triggers-sources.md"
_BLOCK = re.compile(r"(<!-- fields:(\w+) -->\n)(.*?)(<!-- /fields -->)", re.S)


def _type_of(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type_of(s) for s in schema["anyOf"] if s.get("type") != "null")
    if schema.get("type") == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def render(model: type[BaseModel]) -> str:
    """The markdown table of a config model's fields."""
    schema = model.model_json_schema()
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        prop = schema["properties"][name]
        if "$ref" in prop.get("items", {}):
            prop = {**prop, "items": schema["$defs"][prop["items"]["$ref"].rsplit("/", 1)[-1]]}
        value = None if field.is_required() else field.get_default(call_default_factory=True)
        default = "required" if field.is_required() else f"`{json.dumps(value)}`"
        lines.append(f"| `{name}` | {_type_of(prop)} | {default} | {field.description} |")
    return "\n".join(lines) + "\n"


def test_the_field_tables_match_the_models() -> None:
    text = PAGE.read_text()
    expected = _BLOCK.sub(lambda m: m[1] + render(SOURCES[m[2]].config_model) + m[4], text)
    if os.environ.get("RPA_WRITE_DOCS") == "1":
        PAGE.write_text(expected)
    assert {m[2] for m in _BLOCK.finditer(text)} == set(SOURCES), "a source has no field table on the page"
    assert text == expected, "the field tables are stale: rerun this test with RPA_WRITE_DOCS=1"


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_the_example_configs_on_the_page_are_valid(kind: str) -> None:
    examples = re.findall(rf"<!-- example:{kind} -->\n```json\n(.*?)```", PAGE.read_text(), re.S)
    assert examples, f"no example config for {kind}"
    for example in examples:
        SOURCES[kind].config_model.model_validate(json.loads(example))

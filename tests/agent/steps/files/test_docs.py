"""docs/steps/files.md documents every `files.*` step, and its params tables match the models.

The tables between `<!-- params:NAME -->` and `<!-- /params -->` are generated from the params
models; after changing a model, rewrite them with `python -m tests.agent.steps.files.test_docs`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agent.steps.files import FILES_STEPS
from shared.steps import definition_of

PAGE = Path(__file__).resolve().parents[4] / "docs" / "steps" / "files.md"
BLOCK = re.compile(r"<!-- params:(?P<name>[\w.]+) -->\n.*?<!-- /params -->", re.S)


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def _default(name: str, schema: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "required"
    value = schema.get("default")
    if value is None:
        return "none"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def table(step_name: str) -> str:
    """The params table of one step, in Markdown."""
    definition = next(d for d in map(definition_of, FILES_STEPS) if d.name == step_name)
    schema = definition.params.model_json_schema()
    required = schema.get("required", [])
    lines = ["| param | type | default | description |", "|---|---|---|---|"]
    for name, field in schema["properties"].items():
        text = field.get("description", "").replace("|", "\\|")
        lines.append(f"| `{name}` | {_type(field)} | {_default(name, field, required)} | {text} |")
    return "\n".join(lines)


def render(text: str) -> str:
    """The page with every params block generated again."""
    return BLOCK.sub(lambda m: f"<!-- params:{m['name']} -->\n{table(m['name'])}\n<!-- /params -->", text)


def test_every_step_has_a_section_with_its_params() -> None:
    text = PAGE.read_text(encoding="utf-8")
    documented = {m["name"] for m in BLOCK.finditer(text)}
    assert documented == {definition_of(s).name for s in FILES_STEPS}
    for name in documented:
        assert f"### `{name}`" in text, name


def test_the_params_tables_are_up_to_date() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert render(text) == text, "run: python -m tests.agent.steps.files.test_docs"


def test_the_page_is_linked_from_the_steps_index() -> None:
    index = (PAGE.parent / "README.md").read_text(encoding="utf-8")
    assert "(files.md)" in index


if __name__ == "__main__":
    PAGE.write_text(render(PAGE.read_text(encoding="utf-8")), encoding="utf-8")

"""docs/steps/browser-targets.md stays in step with the params models.

The params tables between `<!-- params:NAME -->` and `<!-- /params -->` are generated from the
models; `RPA_UPDATE_DOCS=1 pytest tests/agent/steps/browser/test_targets_docs.py` rewrites them.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.steps.browser import Anchor, DescribeParams, Fingerprint, HealingParams, SolveCaptchaParams, TargetSpec

PAGE = Path(__file__).resolve().parents[4] / "docs" / "steps" / "browser-targets.md"
MODELS: dict[str, type[BaseModel]] = {
    "TargetSpec": TargetSpec,
    "Anchor": Anchor,
    "Fingerprint": Fingerprint,
    "browser.solve_captcha": SolveCaptchaParams,
    "browser.healing": HealingParams,
    "browser.describe_element": DescribeParams,
}
_BLOCK = re.compile(r"(<!-- params:(?P<name>[\w.]+) -->\n)(.*?)(<!-- /params -->)", re.DOTALL)


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(_type(s) for s in schema.get("anyOf") or schema["oneOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "enum" in schema:
        return " / ".join(f"`{v}`" for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean", "null": "null"}.get(
        str(schema.get("type")), "any"
    )


def params_table(model: type[BaseModel]) -> str:
    """The markdown table of a params model: name, type, default, description."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    rows = ["| param | type | default | description |", "|-------|------|---------|-------------|"]
    for name, prop in schema["properties"].items():
        field = model.model_fields[name]
        if name in required:
            default = "required"
        elif field.default_factory is not None:
            default = f"`{json.dumps(field.default_factory())}`"  # type: ignore[call-arg]
        else:
            default = "none" if field.default is None else f"`{json.dumps(field.default)}`"
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type(prop).replace('|', chr(92) + '|')} | {default} | {description} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + params_table(MODELS[m.group("name")]) + m.group(4), text)


def test_the_targets_page_has_an_up_to_date_table_for_every_model() -> None:
    text = PAGE.read_text(encoding="utf-8")
    if os.environ.get("RPA_UPDATE_DOCS"):
        PAGE.write_text(render(text), encoding="utf-8")
        text = PAGE.read_text(encoding="utf-8")
    assert {m.group("name") for m in _BLOCK.finditer(text)} == set(MODELS)
    assert render(text) == text, "params tables are stale: rerun with RPA_UPDATE_DOCS=1"


def test_the_steps_index_links_the_targets_page() -> None:
    index = (PAGE.parent / "README.md").read_text(encoding="utf-8")
    assert "(browser-targets.md)" in index


def test_every_field_has_a_description_for_the_studio_forms() -> None:
    from agent.steps.browser import ElementBox

    for model in [*MODELS.values(), ElementBox]:
        assert model.model_config.get("extra") == "forbid", model.__name__
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name}"


def test_the_targets_api_is_public_and_its_steps_are_registered() -> None:
    import agent.steps.browser as browser
    from shared.steps import definition_of

    public = {"Anchor", "ElementBox", "Fingerprint", "Located", "Target", "TargetSpec", "describe_element", "locate"}
    assert public | {"solve_captcha", "set_healing"} <= set(browser.__all__)
    names = {definition_of(s).name for s in browser.BROWSER_STEPS}
    assert {"browser.solve_captcha", "browser.healing", "browser.describe_element"} <= names
    assert definition_of(browser.set_healing).effects is False
    assert definition_of(browser.solve_captcha).capability == "browser"

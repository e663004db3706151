"""docs/steps/browser.md documents every browser step of the sessions, actions, waits, extraction
and storage modules, with a params table generated from its model.

`RPA_UPDATE_DOCS=1 pytest tests/agent/steps/browser/test_browser_docs.py` rewrites the tables.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, create_model

from agent.steps.browser import BROWSER_STEPS
from shared.steps import definition_of
from tests.agent.steps.browser.test_targets_docs import params_table as targets_params_table

PAGE = Path(__file__).resolve().parents[4] / "docs" / "steps" / "browser.md"
FAMILY_MODULES = {"_session_steps", "_actions", "_waits", "_extract", "_storage"}
MODELS: dict[str, type[BaseModel]] = {
    definition_of(fn).name: definition_of(fn).params
    for fn in BROWSER_STEPS
    if fn.__module__.rsplit(".", 1)[-1] in FAMILY_MODULES
}
_BLOCK = re.compile(r"(<!-- params:(?P<name>[\w.]+) -->\n)(.*?)(<!-- /params -->)", re.DOTALL)


def params_table(model: type[BaseModel]) -> str:
    """The targets page's table, with model-valued defaults (a viewport) shown as JSON."""
    plain = {
        name: field.default_factory().model_dump()  # type: ignore[call-arg]
        for name, field in model.model_fields.items()
        if field.default_factory is not None and isinstance(field.default_factory(), BaseModel)  # type: ignore[call-arg]
    }
    if not plain:
        return targets_params_table(model)
    shown = create_model(model.__name__, __base__=model, **{n: (dict[str, Any], v) for n, v in plain.items()})
    for name in plain:
        shown.model_fields[name].description = model.model_fields[name].description
    return targets_params_table(shown)


def render(text: str) -> str:
    return _BLOCK.sub(lambda m: m.group(1) + params_table(MODELS[m.group("name")]) + m.group(4), text)


def test_every_step_has_a_section_with_an_up_to_date_params_table() -> None:
    text = PAGE.read_text(encoding="utf-8")
    if os.environ.get("RPA_UPDATE_DOCS"):
        PAGE.write_text(render(text), encoding="utf-8")
        text = PAGE.read_text(encoding="utf-8")
    assert len(MODELS) == 39
    assert {m.group("name") for m in _BLOCK.finditer(text)} == set(MODELS)
    assert all(f"### `{name}`" in text for name in MODELS)
    assert render(text) == text, "params tables are stale: rerun with RPA_UPDATE_DOCS=1"


def test_the_steps_index_links_the_browser_page() -> None:
    assert "(browser.md)" in (PAGE.parent / "README.md").read_text(encoding="utf-8")

"""The step pages list every step of their family with params tables generated from the models."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.excel import CSV_STEPS, EXCEL_STEPS
from shared.steps import StepRegistry, definition_of
from shared.steps.builtin import BUILTIN_STEPS, TABLE_STEPS
from tests.steps_docs import block, update

DOCS = Path(__file__).resolve().parents[4] / "docs"
REGISTRY = StepRegistry([*BUILTIN_STEPS, *EXCEL_STEPS, *CSV_STEPS])


@pytest.mark.parametrize(
    ("page", "steps"),
    [("steps/excel.md", (*EXCEL_STEPS, *CSV_STEPS)), ("steps/tables.md", TABLE_STEPS), ("steps.md", TABLE_STEPS)],
)
def test_each_step_has_an_up_to_date_params_table(page: str, steps: tuple[object, ...]) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    for fn in steps:
        definition = definition_of(fn)  # type: ignore[arg-type]
        assert f"### `{definition.name}`" in text, definition.name
        assert block(definition) in text, f"{page}: regenerate with python -m tests.steps_docs ({definition.name})"
    assert update(text, REGISTRY) == text


def test_the_family_pages_are_linked() -> None:
    index = (DOCS / "steps" / "README.md").read_text(encoding="utf-8")
    assert "(excel.md)" in index
    assert "(tables.md)" in index

"""`docs/steps/ai.md` documents every `ai.*` step, its params tables match the models, the
index links it, and the catalogue describes the steps for the studio."""

from __future__ import annotations

from pathlib import Path

from agent.steps.ai import AI_STEPS
from shared.steps import StepRegistry, definition_of
from tests.agent.steps.docs_tables import documented, render_page

DOCS = Path(__file__).resolve().parents[4] / "docs" / "steps"


def test_ai_page_is_up_to_date_and_complete() -> None:
    text = (DOCS / "ai.md").read_text(encoding="utf-8")
    assert text == render_page(text, StepRegistry(AI_STEPS)), (
        "docs/steps/ai.md is out of date: python -m tests.agent.steps.docs_tables docs/steps/ai.md"
    )
    assert {definition_of(s).name for s in AI_STEPS} == documented(text)
    assert "(ai.md)" in (DOCS / "README.md").read_text(encoding="utf-8")


def test_ai_steps_are_in_the_default_catalogue_with_credential_fields() -> None:
    registry = StepRegistry.default()
    for fn in AI_STEPS:
        name = definition_of(fn).name
        described = registry.get(name).describe()
        assert described["params"]["properties"]["credential"]["x-rpa-credential"] is True, name
        assert described["summary"], name
        assert "Example node" in described["docs"], name
    assert registry.get("ai.decide").ports_for({"options": ["a", "b"]}) == ("a", "b", "error")
    assert registry.get("ai.decide").ports_for({"options": "{{ inputs.options }}"}) is None

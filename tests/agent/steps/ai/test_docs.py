"""The catalogue describes the `ai.*` steps for the studio (their page is checked with the
others by `tests/agent/steps/test_docs.py`)."""

from __future__ import annotations

from agent.steps.ai import AI_STEPS
from shared.steps import StepRegistry, definition_of


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

"""The targets API is public, its models are ready for the studio's forms, and its steps are registered."""

from __future__ import annotations

from agent.steps.browser import (
    Anchor,
    DescribeParams,
    ElementBox,
    Fingerprint,
    HealingParams,
    SolveCaptchaParams,
    TargetSpec,
)


def test_every_field_has_a_description_for_the_studio_forms() -> None:
    for model in (TargetSpec, Anchor, Fingerprint, SolveCaptchaParams, HealingParams, DescribeParams, ElementBox):
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

"""The pure parts of targets: Similo scoring, the healing verdict, anchor geometry, selector syntax."""

from __future__ import annotations

import pytest

from agent.steps.browser import Fingerprint
from agent.steps.browser._anchors import Box, choose
from agent.steps.browser._healing import MIN_LEAD, MIN_SCORE, family_selector, rank, verdict
from agent.steps.browser._selectors import SelectorSyntaxError, check_selector
from agent.steps.browser._similo import similarity

RECORDED = Fingerprint(
    tag="input",
    id="f-1234",
    name="amount",
    type="text",
    role="textbox",
    neighbours=["Amount"],
    xpath="/html[1]/body[1]/form[1]/div[2]/input[1]",
    box={"x": 80, "y": 30, "width": 180, "height": 21},
)


def candidate(**changes: object) -> dict[str, object]:
    raw = RECORDED.model_dump()
    raw.update({"visible": True, **changes})
    return raw


def test_similarity_is_one_for_the_same_element_and_drops_with_each_change() -> None:
    assert similarity(RECORDED, candidate()) == pytest.approx(1.0)
    renamed = similarity(RECORDED, candidate(id="f-9876", name="total"))
    moved = similarity(
        RECORDED,
        candidate(
            id="f-9876", name="total", neighbours=["Due date"], box={"x": 80, "y": 400, "width": 180, "height": 21}
        ),
    )
    assert 1.0 > renamed > moved
    assert similarity(RECORDED, {"tag": "a"}) < 0.2


def test_an_attribute_that_was_not_recorded_does_not_count() -> None:
    bare = Fingerprint(tag="button", text="Save")
    assert similarity(bare, {"tag": "button", "text": "Save", "id": "anything", "name": "x"}) == pytest.approx(1.0)


def test_verdict_needs_a_score_and_a_lead() -> None:
    assert verdict([])[0] is None
    assert verdict([(0.95, 4), (0.5, 1)]) == (4, "score 0.95, runner-up 0.50")
    assert verdict([(MIN_SCORE - 0.01, 4)])[0] is None
    assert verdict([(0.9, 4), (0.9 - MIN_LEAD / 2, 1)])[0] is None


def test_rank_ignores_invisible_candidates_and_sorts_best_first() -> None:
    ranked = rank(RECORDED, [candidate(visible=False), candidate(name="x"), candidate()])
    assert [i for _, i in ranked] == [2, 1]


def test_family_selector_includes_the_tags_a_redesign_swaps() -> None:
    assert family_selector(RECORDED) == 'input, textarea, [role="textbox"]'
    assert family_selector(Fingerprint(tag="a", role="link")) == 'a, button, [role="link"]'


def test_anchor_geometry_prefers_the_nearest_on_the_side_and_in_the_band() -> None:
    label = Box(0, 0, 100, 20)
    beside, far, below = Box(110, 0, 100, 20), Box(400, 0, 100, 20), Box(0, 30, 100, 20)
    assert choose([label], [far, below, beside], "right_of", None).index == 2
    assert choose([label], [far, below, beside], "below", None).index == 1
    assert choose([label], [far], "right_of", 100).index is None
    assert choose([label], [Box(110, 100, 100, 20)], "right_of", None).index is None  # outside the row band
    assert choose([label], [beside, Box(110, 0, 100, 20)], "right_of", None).tied == (0, 1)


@pytest.mark.parametrize(
    "selector",
    [
        "#a .b > c",
        'button:has-text("Save, now")',
        "text=Save",
        "'Save'",
        "//div[@id='x']",
        "xpath=..",
        'internal:role=button[name="Save"i]',
        "div >> nth=1",
        "data-testid=go",
        "li:nth-match(li, 2)",
    ],
)
def test_valid_selectors_pass(selector: str) -> None:
    assert check_selector(selector) == selector


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("div[", "CSS selector 'div[' does not parse"),
        ("//div[", "XPath selector '//div[' does not parse"),
        ("xpath=//a[@", "XPath selector 'xpath=//a[@' does not parse"),
        ("foo=bar", "unknown selector engine 'foo='"),
        ("div >> ", "has an empty part"),
        ("", "the selector is empty"),
        ("a:has-text('x'", "unclosed ':has-text('"),
    ],
)
def test_invalid_selectors_say_what_is_wrong(selector: str, message: str) -> None:
    with pytest.raises(SelectorSyntaxError, match=message.replace("[", r"\[").replace("(", r"\(")):
        check_selector(selector)


@pytest.mark.parametrize(
    ("value", "generated"),
    [
        ("in-81723", True),
        ("c-3fa2b1", True),
        ("ember1234", True),
        ("a1b2c3d4-e5f6-7890-abcd-ef0123456789", True),
        ("user", False),
        ("submit-order", False),
        ("f10", False),
        ("invoice_number", False),
        ("deadbeef", False),
    ],
)
def test_ids_made_up_on_each_load_are_not_offered_as_fallbacks(value: str, generated: bool) -> None:
    from agent.steps.browser._describe import looks_generated

    assert looks_generated(value) is generated

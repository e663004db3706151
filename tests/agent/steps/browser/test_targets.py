"""`locate`: primary, fallbacks, strict mode, index, anchors, invalid selectors, on real Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from agent.steps.browser import Anchor, TargetSpec, locate
from shared.errors import StepError
from shared.steps import StepEnvironment, step
from tests.agent.steps.browser.targets_support import browser_context, chromium, page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["browser_context", "chromium", "page"]

FORM = """
<form style="font: 16px sans-serif">
  <div style="display:flex; gap:10px; margin:10px"><span>Invoice number</span><input id="inv-81723" name="n1"></div>
  <div style="display:flex; gap:10px; margin:10px"><span>Amount</span><input id="amt-29481" name="n2"></div>
  <div style="margin:10px"><span>Customer</span></div>
  <div style="margin:10px"><input id="cust-11" placeholder="Name"></div>
  <button type="button" class="btn">Save</button>
  <button type="button" class="btn">Cancel</button>
  <button type="button" class="btn" style="display:none">Hidden</button>
</form>
"""


async def test_primary_selector_finds_the_one_element(page: Any) -> None:
    await page.set_content(FORM)
    found = await locate(page, "text=Save", timeout_s=2)
    assert found.selector == "text=Save"
    assert not found.healed
    assert await found.locator.inner_text() == "Save"


async def test_a_fallback_wins_and_the_log_names_the_selector_to_update(page: Any) -> None:
    await page.set_content(FORM)
    spec = TargetSpec(selector="#inv-00000", fallbacks=["#nope", "input[name=n1]"])
    logs: list[tuple[str, str]] = []
    env = StepEnvironment()

    @step("test.locate")
    async def run(_params: Any) -> str:
        found = await locate(page, spec, timeout_s=0.5)
        return str(await found.locator.get_attribute("id"))

    assert await env.run(run, {}) == "inv-81723"
    logs = env.logs
    assert any(level == "warning" and "update the target to use 'input[name=n1]'" in msg for level, msg in logs)


async def test_an_ambiguous_primary_gives_way_to_a_unique_fallback(page: Any) -> None:
    await page.set_content(FORM)
    env = StepEnvironment()

    @step("test.locate")
    async def run(_params: Any) -> str:
        found = await locate(page, TargetSpec(selector="button.btn", fallbacks=["text=Cancel"]), timeout_s=1)
        return str(await found.locator.inner_text())

    assert await env.run(run, {}) == "Cancel"
    assert "primary selector 'button.btn' matched 2 elements; fallback 'text=Cancel' matched" in env.logs[-1][1]


async def test_strict_mode_reports_how_many_matched_and_which(page: Any) -> None:
    await page.set_content(FORM)
    with pytest.raises(StepError) as caught:
        await locate(page, "button.btn", timeout_s=1)
    err = caught.value
    assert err.kind == "ambiguous_target"
    assert not err.retryable
    # The hidden third button does not count: only visible elements are candidates.
    assert err.details["count"] == 2
    assert err.details["matches"] == ['button.btn[type="button"] "Save"', 'button.btn[type="button"] "Cancel"']
    assert "2 elements match 'button.btn'" in err.message


async def test_an_index_picks_one_of_several_matches(page: Any) -> None:
    await page.set_content(FORM)
    last = await locate(page, TargetSpec(selector="button.btn", index=-1), timeout_s=1)
    assert await last.locator.inner_text() == "Cancel"
    first = await locate(page, TargetSpec(selector="button.btn", index=0), timeout_s=1)
    assert await first.locator.inner_text() == "Save"


async def test_attached_state_counts_hidden_elements_too(page: Any) -> None:
    await page.set_content(FORM)
    with pytest.raises(StepError) as caught:
        await locate(page, "button.btn", timeout_s=1, state="attached")
    assert caught.value.details["count"] == 3


async def test_nothing_found_lists_every_selector_tried(page: Any) -> None:
    await page.set_content(FORM)
    spec = TargetSpec(selector="#gone", fallbacks=["button.btn"])
    with pytest.raises(StepError) as caught:
        await locate(page, TargetSpec(selector="#gone", fallbacks=["#also-gone"]), timeout_s=0.3)
    err = caught.value
    assert err.kind == "element_not_found"
    assert err.retryable
    assert [t["selector"] for t in err.details["tried"]] == ["#gone", "#also-gone"]
    assert "no element matches '#gone' or its 1 fallback(s) after 0.3 s" in err.message
    del spec


async def test_an_element_that_appears_late_is_waited_for(page: Any) -> None:
    await page.set_content("<div id=host></div>")
    await page.evaluate(
        "setTimeout(() => { document.getElementById('host').innerHTML = '<button>Late</button>' }, 300)"
    )
    found = await locate(page, TargetSpec(selector="#never", fallbacks=["text=Late"]), timeout_s=5)
    assert found.selector == "text=Late"


@pytest.mark.parametrize(
    ("relation", "text", "expected"),
    [
        ("right_of", "Invoice number", "inv-81723"),
        ("right_of", "Amount", "amt-29481"),
        ("below", "Customer", "cust-11"),
    ],
)
async def test_an_anchor_picks_the_input_next_to_a_text(page: Any, relation: str, text: str, expected: str) -> None:
    await page.set_content(FORM)
    spec = TargetSpec(selector="input", anchor=Anchor(text=text, relation=relation))  # type: ignore[arg-type]
    found = await locate(page, spec, timeout_s=1)
    assert await found.locator.get_attribute("id") == expected


async def test_near_picks_the_nearest_and_refuses_a_tie(page: Any) -> None:
    await page.set_content(
        "<style>input,span{height:20px;line-height:20px;box-sizing:border-box;margin:0;padding:0}</style>"
        '<div style="position:relative; font: 14px sans-serif">'
        '<input id=a style="position:absolute; left:10px; top:10px; width:100px">'
        '<span style="position:absolute; left:130px; top:10px">Total</span>'
        '<input id=b style="position:absolute; left:300px; top:10px; width:100px">'
        '<span style="position:absolute; left:10px; top:200px">Tax</span>'
        '<input id=c style="position:absolute; left:10px; top:160px; width:100px">'
        '<input id=d style="position:absolute; left:10px; top:240px; width:100px"></div>'
    )
    found = await locate(page, TargetSpec(selector="input", anchor=Anchor(text="Total", relation="near")), timeout_s=1)
    assert await found.locator.get_attribute("id") == "a"
    # 'Tax' has an input 20 px above it and one 20 px below: near cannot choose.
    with pytest.raises(StepError) as caught:
        await locate(page, TargetSpec(selector="input", anchor=Anchor(text="Tax", relation="near")), timeout_s=1)
    assert caught.value.kind == "ambiguous_target"
    assert caught.value.details["count"] == 2
    # An index takes the n-th nearest instead.
    spec = TargetSpec(selector="input", anchor=Anchor(text="Tax", relation="below"), index=0)
    found = await locate(page, spec, timeout_s=1)
    assert await found.locator.get_attribute("id") == "d"


async def test_an_anchor_with_no_match_on_its_side_is_not_found(page: Any) -> None:
    await page.set_content(FORM)
    spec = TargetSpec(selector="input", anchor=Anchor(text="Invoice number", relation="left_of"))
    with pytest.raises(StepError) as caught:
        await locate(page, spec, timeout_s=0.3)
    assert caught.value.kind == "element_not_found"
    assert "left of the text 'Invoice number'" in caught.value.message


async def test_a_selector_playwright_rejects_is_invalid_selector(page: Any) -> None:
    await page.set_content(FORM)
    with pytest.raises(StepError) as caught:
        await locate(page, "div[", timeout_s=1)
    assert caught.value.kind == "invalid_selector"
    assert not caught.value.retryable
    with pytest.raises(StepError) as caught:
        await locate(page, "role=button[name=", timeout_s=1)
    assert caught.value.kind == "invalid_selector"


async def test_not_found_without_a_fingerprint_still_lists_the_closest_candidates(page: Any) -> None:
    await page.set_content(FORM)
    with pytest.raises(StepError) as caught:
        await locate(page, "form >> nth=5", timeout_s=0.1)
    assert caught.value.details["closest"] == []  # the selector says nothing about the element
    with pytest.raises(StepError) as caught:
        await locate(page, "input[name=n3]", timeout_s=0.1)
    closest = caught.value.details["closest"]
    assert len(closest) == 4
    assert closest[0]["element"].startswith("input#")
    assert closest[-1]["healing"].startswith("no fingerprint recorded")
    with pytest.raises(StepError) as caught:
        await locate(page, "role=button[name='Safe']", timeout_s=0.1)
    assert caught.value.details["closest"][0]["element"] == 'button "Save"'


async def test_a_navigation_while_waiting_does_not_break_the_wait(page: Any, browser_site: Any) -> None:
    for _ in range(3):
        await page.goto(browser_site.url("/late?delay=50"))
        # Leave for a page answered late while the locate loop is polling the current one.
        await page.evaluate(f"setTimeout(() => {{ location.href = '{browser_site.url('/slow?ms=400')}' }}, 30)")
        found = await locate(page, "#slow", timeout_s=10)
        assert await found.locator.inner_text() == "done"

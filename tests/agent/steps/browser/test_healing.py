"""Describing an element and self-healing a target from its fingerprint, on real Chromium."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agent.steps.browser import TargetSpec, describe_element, locate
from agent.steps.browser._healing import MIN_LEAD, MIN_SCORE
from shared.errors import StepError
from shared.steps import StepEnvironment, step
from tests.agent.steps.browser.targets_support import browser_context, chromium, page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["browser_context", "chromium", "page"]


def invoice_form(seed: int, *, amount_name: str = "amount") -> str:
    """The same invoice form, with fresh generated ids on every load (as many web apps do)."""
    rng = random.Random(seed)

    def uid(prefix: str) -> str:
        return f"{prefix}-{rng.randrange(10**8):08d}"

    return f"""
<form style="font: 16px sans-serif; width: 600px">
  <div class="row"><span>Invoice number</span> <input id="{uid("f")}" name="invoice" class="field"></div>
  <div class="row"><span>Amount</span> <input id="{uid("f")}" name="{amount_name}" class="field"></div>
  <div class="row"><span>Due date</span> <input id="{uid("f")}" name="due" type="date" class="field"></div>
  <button id="{uid("b")}" type="button">Save invoice</button>
</form>"""


async def run_in_step(env: StepEnvironment, coro_fn: Any) -> Any:
    @step("test.targets")
    async def run(_params: Any) -> Any:
        return await coro_fn()

    return await env.run(run, {})


async def test_describe_builds_a_primary_ranked_fallbacks_and_a_fingerprint(page: Any) -> None:
    await page.set_content(
        "<label for=u>User name</label><input id=u name=user><button data-testid=go type=button>Go</button>"
    )
    env = StepEnvironment()
    spec = await run_in_step(env, lambda: describe_element(page.locator("#u")))
    assert spec.selector == 'internal:role=textbox[name="User name"i]'
    assert "#u" in spec.fallbacks
    assert 'input[name="user"]' in spec.fallbacks
    fp = spec.fingerprint
    assert fp is not None
    assert (fp.tag, fp.id, fp.name, fp.role, fp.label) == ("input", "u", "user", "textbox", "User name")
    assert fp.box is not None
    assert fp.box.width > 0
    assert fp.screenshot is not None
    assert (env.artifacts_dir / env.execution_id / "step" / "target.png").stat().st_size > 100
    button = await describe_element(page.locator("button"), screenshot=False)
    assert button.selector == 'internal:testid=[data-testid="go"s]'
    # Every recorded selector finds the same element again.
    for selector in [button.selector, *button.fallbacks]:
        assert await page.locator(selector).get_attribute("data-testid") == "go"


async def test_fallbacks_find_the_target_on_a_page_whose_ids_change(page: Any) -> None:
    await page.set_content(invoice_form(1))
    spec = await describe_element(page.locator("input[name=amount]"), screenshot=False)
    for seed in (2, 3):
        await page.set_content(invoice_form(seed))
        found = await locate(page, spec, timeout_s=1, heal=False)
        assert not found.healed
        assert await found.locator.get_attribute("name") == "amount"


async def test_healing_accepts_a_clearly_better_candidate_and_journals_it(page: Any) -> None:
    await page.set_content(invoice_form(1))
    recorded = await describe_element(page.locator("input[name=amount]"), screenshot=False)
    old_id = recorded.fingerprint.id  # type: ignore[union-attr]
    # Only the id-based selector was kept, and the new release renamed the field as well.
    spec = TargetSpec(selector=f"#{old_id}", fingerprint=recorded.fingerprint)
    await page.set_content(invoice_form(7, amount_name="total_amount"))
    env = StepEnvironment()
    found = await run_in_step(env, lambda: locate(page, spec, timeout_s=0.3))
    assert found.healed
    assert await found.locator.get_attribute("name") == "total_amount"
    [(kind, note)] = env.notes
    assert kind == "healed"
    assert note["old"] == f"#{old_id}"
    assert note["new"] == found.selector
    assert note["score"] >= MIN_SCORE
    assert note["score"] - note["runner_up"] >= MIN_LEAD
    assert (env.artifacts_dir / env.execution_id / "step" / note["screenshot"].split("/")[-1]).is_file()
    assert any(level == "warning" and "target healed" in message for level, message in env.logs)


async def test_healing_refuses_two_near_equal_candidates(page: Any) -> None:
    await page.set_content('<div style="margin:40px"><span>Search</span> <input name=q class=box></div>')
    recorded = await describe_element(page.locator("input"), screenshot=False)
    spec = TargetSpec(selector="#search-old", fingerprint=recorded.fingerprint)
    # Two copies of the field side by side: whichever healing took, it would be a guess.
    await page.set_content(
        '<div style="margin:40px"><span>Search</span> <input name=q class=box> <input name=q class=box></div>'
    )
    env = StepEnvironment()
    with pytest.raises(StepError) as caught:
        await run_in_step(env, lambda: locate(page, spec, timeout_s=0.3))
    err = caught.value
    assert err.kind == "element_not_found"
    closest = err.details["closest"]
    assert closest[0]["score"] - closest[1]["score"] < MIN_LEAD
    assert "too close to choose" in closest[-1]["healing"]
    assert env.notes == []


async def test_healing_turned_off_fails_but_lists_the_closest_candidates(page: Any) -> None:
    await page.set_content(invoice_form(1))
    recorded = await describe_element(page.locator("input[name=amount]"), screenshot=False)
    spec = TargetSpec(selector="#gone", fingerprint=recorded.fingerprint)
    await page.set_content(invoice_form(9, amount_name="total_amount"))
    with pytest.raises(StepError) as caught:
        await locate(page, spec, timeout_s=0.2, heal=False)
    closest = caught.value.details["closest"]
    assert closest[0]["element"].startswith("input#f-")
    assert "name=total_amount" in closest[0]["element"]
    assert closest[-1] == {"healing": "self-healing is turned off"}


async def test_a_target_or_the_execution_can_turn_healing_off(page: Any) -> None:
    from agent.steps.browser import set_healing

    await page.set_content(invoice_form(1))
    recorded = await describe_element(page.locator("input[name=amount]"), screenshot=False)
    await page.set_content(invoice_form(5, amount_name="total_amount"))
    opted_out = TargetSpec(selector="#gone", fingerprint=recorded.fingerprint, heal=False)
    with pytest.raises(StepError) as caught:
        await locate(page, opted_out, timeout_s=0.1)
    assert caught.value.details["closest"][-1] == {"healing": "self-healing is turned off"}

    env = StepEnvironment()
    spec = TargetSpec(selector="#gone", fingerprint=recorded.fingerprint)
    assert await env.run(set_healing, {"enabled": False}) is False
    with pytest.raises(StepError):
        await run_in_step(env, lambda: locate(page, spec, timeout_s=0.1))
    assert await env.run(set_healing, {"enabled": True}) is True
    assert (await run_in_step(env, lambda: locate(page, spec, timeout_s=0.1))).healed


async def test_a_target_inside_an_iframe_is_recorded_found_and_healed_from_the_page(page: Any) -> None:
    form = '<div><span>Query</span> <input id="q-{n}" name="{name}"></div><button>Go</button>'
    await page.set_content(f"<iframe name=inner srcdoc='{form.format(n=1, name='q')}'></iframe>")
    frame = page.frame_locator("iframe[name=inner]")
    await frame.locator("input").wait_for()
    recorded = await describe_element(frame.locator("input"), screenshot=False)
    prefix = 'iframe[name="inner"] >> internal:control=enter-frame >> '
    assert recorded.selector.startswith(prefix)
    assert recorded.fallbacks
    assert all(f.startswith(prefix) for f in recorded.fallbacks)
    for selector in [recorded.selector, *recorded.fallbacks]:
        assert await page.locator(selector).get_attribute("id") == "q-1"
    await page.set_content(f"<iframe name=inner srcdoc='{form.format(n=2, name='query')}'></iframe>")
    await frame.locator("input").wait_for()
    stale = TargetSpec(selector=f"{prefix}#q-1", fingerprint=recorded.fingerprint)
    env = StepEnvironment()
    found = await run_in_step(env, lambda: locate(page, stale, timeout_s=0.2))
    assert found.healed
    assert found.selector.startswith(prefix)
    assert await found.locator.get_attribute("id") == "q-2"


async def test_hidden_elements_do_not_use_up_the_candidates_healing_scores(page: Any) -> None:
    from agent.steps.browser._healing import MAX_CANDIDATES

    hidden = "<input type=hidden name=token>" * (MAX_CANDIDATES + 50)
    await page.set_content(f"<form>{hidden}{invoice_form(1)}</form>")
    recorded = await describe_element(page.locator("input[name=amount]"), screenshot=False)
    await page.set_content(f"<form>{hidden}{invoice_form(2, amount_name='sum')}</form>")
    spec = TargetSpec(selector="#gone", fingerprint=recorded.fingerprint)
    found = await run_in_step(StepEnvironment(), lambda: locate(page, spec, timeout_s=0.1))
    assert found.healed
    assert await found.locator.get_attribute("name") == "sum"

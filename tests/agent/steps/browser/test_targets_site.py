"""Targets on the loopback test site's page whose ids and classes change on every load."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from agent.steps.browser import Anchor, TargetSpec, describe_element
from agent.steps.browser import _actions as a
from agent.steps.browser import _extract as x
from agent.steps.browser import _waits as w
from shared.steps import StepEnvironment, step
from tests.agent.steps.browser.site import SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


async def in_step(env: StepEnvironment, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(page)` as a step of the module's execution, on the session's active tab."""

    @step("test.targets_site")
    async def run(_params: Any) -> Any:
        return await work(env.resources.get("browser:main").page)

    return await env.run(run, {})


async def recorded_invoice_input(env: StepEnvironment, site: SiteServer) -> TargetSpec:
    await env.run(a.goto, {"url": site.url("/shifting")})
    spec: TargetSpec = await in_step(env, lambda page: describe_element(page.locator("form input")))
    assert spec.fingerprint is not None
    assert spec.fingerprint.id.startswith("in-")
    return spec


BUTTON = {"selector": "button", "anchor": {"text": "Invoice number", "relation": "right_of"}}


async def send(env: StepEnvironment, input_target: TargetSpec, value: str) -> str:
    """Fill the invoice number and press Send with the browser steps, targets given as in a flow."""
    # A short timeout: healing starts only once every selector has had its time.
    target = input_target.model_dump(exclude_defaults=True)
    await env.run(a.fill, {"target": target, "value": value, "timeout_s": 1})
    await env.run(a.click, {"target": BUTTON})
    await env.run(w.wait, {"js": "document.querySelector('p.out').textContent !== ''"})
    result: str = await env.run(x.get_text, {"target": "p.out"})
    return result


async def test_fallbacks_and_anchors_find_the_target_after_every_reload(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    recorded = await recorded_invoice_input(browser_env, browser_site)
    # As recorded by a tool that kept the id first: stale after the next load.
    stale = TargetSpec(selector=f"#{recorded.fingerprint.id}", fallbacks=[recorded.selector, *recorded.fallbacks])  # type: ignore[union-attr]
    anchored = TargetSpec(selector="input", anchor=Anchor(text="Invoice number", relation="right_of"))
    for n in range(2):
        await browser_env.run(a.goto, {"url": browser_site.url("/shifting")})
        assert await send(browser_env, stale, f"INV-{n}") == f"sent INV-{n}"
        await browser_env.run(a.goto, {"url": browser_site.url("/shifting")})
        assert await send(browser_env, anchored, f"ANC-{n}") == f"sent ANC-{n}"
    warnings = [m for level, m in browser_env.logs if level == "warning" and "update the target" in m]
    assert warnings
    assert f"primary selector '#{recorded.fingerprint.id}' found nothing" in warnings[-1]  # type: ignore[union-attr]
    assert not any(kind == "healed" for kind, _ in browser_env.notes)


async def test_healing_finds_the_reloaded_input_from_its_fingerprint(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    recorded = await recorded_invoice_input(browser_env, browser_site)
    only_id = TargetSpec(selector=f"#{recorded.fingerprint.id}", fingerprint=recorded.fingerprint)  # type: ignore[union-attr]
    await browser_env.run(a.goto, {"url": browser_site.url("/shifting")})
    notes_before = len(browser_env.notes)
    assert await send(browser_env, only_id, "HEALED-1") == "sent HEALED-1"
    [(kind, note)] = browser_env.notes[notes_before:]
    assert kind == "healed"
    assert note["old"] == only_id.selector
    assert note["new"] == 'internal:role=textbox[name="Invoice number"i]'
    assert note["runner_up"] == 0.0  # the only input on the page


async def test_a_descriptor_recorded_by_the_step_drives_the_next_load(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    from agent.steps.browser import describe_element_step

    await browser_env.run(a.goto, {"url": browser_site.url("/shifting")})
    descriptor = await browser_env.run(describe_element_step, {"target": "form input"})
    assert descriptor["selector"] == 'internal:role=textbox[name="Invoice number"i]'
    assert descriptor["fingerprint"]["tag"] == "input"
    assert descriptor["fingerprint"]["screenshot"].endswith(".png")
    await browser_env.run(a.goto, {"url": browser_site.url("/shifting")})
    await browser_env.run(a.fill, {"target": descriptor, "value": "REC-1"})
    await browser_env.run(a.click, {"target": BUTTON})
    await browser_env.run(w.wait, {"text": "sent REC-1"})


async def test_the_recorded_fallbacks_leave_out_the_generated_id(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    recorded = await recorded_invoice_input(browser_env, browser_site)
    assert recorded.fallbacks
    assert not any(recorded.fingerprint.id in selector for selector in recorded.fallbacks)  # type: ignore[union-attr]

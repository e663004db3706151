"""The contract with Playwright's private recorder (`BrowserContext._start_recording`).

The recorder relies on it through `agent/recorder/_adapter.py` only. These tests launch
Chromium, start recording through the adapter and act in the page: they fail the day the entry
point, the callback names or the fields the recorder reads (`name`, `selector`, `text`,
`button`, `clickCount`, `modifiers`, `options`, signal `name`) change shape. Then bump the pinned
range in `pyproject.toml` only after adapting the adapter, or switch to `_codegen.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib.metadata import version
from typing import Any

import pytest
import pytest_asyncio

from agent.recorder import RecordedAction, RecordingAdapter
from agent.steps.browser._runtime import chromium_executable, playwright_for_loop, stop_playwright_for_loop

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

PAGE = """<label for=u>User name</label><input id=u>
<select id=c><option value=fr>France</option><option value=de>Germany</option></select>
<button id=b onclick="alert('hi')">Save</button>"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    playwright = await playwright_for_loop()
    launched = await playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
    try:
        yield launched
    finally:
        await launched.close()
        await stop_playwright_for_loop()


async def _recorded(browser: Any) -> tuple[list[RecordedAction], Any, RecordingAdapter]:
    context = await browser.new_context()
    seen: list[RecordedAction] = []
    adapter = RecordingAdapter(context, seen.append)
    assert RecordingAdapter.supported(context)
    await adapter.start()
    page = await context.new_page()
    await page.set_content(PAGE)
    return seen, page, adapter


async def _click(page: Any, selector: str) -> None:
    box = await page.locator(selector).bounding_box()
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


async def _until(seen: list[RecordedAction], kind: str, name: str) -> RecordedAction:
    for _ in range(100):
        found = [a for a in seen if a.kind == kind and a.name == name]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"Playwright's recorder sent no {kind} {name!r}: {seen}")


async def test_the_tested_playwright_is_the_pinned_one() -> None:
    major, minor = (int(part) for part in version("playwright").split(".")[:2])
    assert (major, minor) == (1, 65), "adapt agent/recorder/_adapter.py, run these tests, then move the pin"


async def test_a_click_is_streamed_with_its_selector_button_and_the_public_page(browser: Any) -> None:
    seen, page, adapter = await _recorded(browser)
    await _click(page, "#u")
    click = await _until(seen, "added", "click")
    assert click.data["selector"] == 'internal:role=textbox[name="User name"i]'
    assert click.data["button"] == "left"
    assert click.data["clickCount"] == 1
    assert click.data["modifiers"] == 0
    assert click.page is page  # the public Page, not Playwright's implementation object
    assert "ariaSnapshot" not in click.data  # field values (passwords) are dropped at the adapter
    await adapter.stop()
    await page.context.close()


async def test_typing_is_one_fill_updated_with_the_text_so_far(browser: Any) -> None:
    seen, page, adapter = await _recorded(browser)
    await _click(page, "#u")
    await page.keyboard.type("abc")
    await _until(seen, "added", "fill")
    last = await _until(seen, "updated", "fill")
    for _ in range(50):
        if last.data.get("text") == "abc":
            break
        await asyncio.sleep(0.05)
        last = [a for a in seen if a.name == "fill"][-1]
    assert last.data["text"] == "abc"
    assert last.data["selector"] == 'internal:role=textbox[name="User name"i]'
    await adapter.stop()
    await page.context.close()


async def test_selects_and_dialogs_keep_their_shape(browser: Any) -> None:
    seen, page, adapter = await _recorded(browser)
    await page.select_option("#c", "de")
    select = await _until(seen, "added", "select")
    assert select.data["options"] == ["de"]
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.dismiss()))
    await _click(page, "#b")
    await _until(seen, "signal", "dialog")
    await adapter.stop()
    await page.context.close()

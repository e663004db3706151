"""Fixtures of the target, healing and CAPTCHA tests: one Chromium and one browser context per
test module, a fresh page per test. A test module imports them (`chromium`, `browser_context`,
`page`) and uses `pytest.mark.asyncio(loop_scope="module")`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from agent.capabilities import find_chromium

LAUNCH_ARGS = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-default-apps"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = find_chromium()
    if executable is None:
        pytest.fail("Chromium is missing: run `make sysdeps` (installs the 'chromium' package) or set RPA_CHROMIUM")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser_context(chromium: Any) -> AsyncIterator[Any]:
    context = await chromium.new_context(viewport={"width": 1000, "height": 700})
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser_context: Any) -> AsyncIterator[Any]:
    page = await browser_context.new_page()
    try:
        yield page
    finally:
        await page.close()

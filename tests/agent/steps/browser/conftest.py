"""Fixtures of the browser step tests.

- `browser_site`: the test site (`site.py`) on a free 127.0.0.1 port, one per test session.
- `browser_env`: a `StepEnvironment` with the session `main` open, one per test module.
- `browser_state_dir`: session checkpoints go to a temporary folder (`RPA_BROWSER_STATE_DIR`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest
import pytest_asyncio

from agent.steps.browser._runtime import stop_playwright_for_loop
from agent.steps.browser._session_steps import open_
from shared.steps import StepEnvironment
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer


@pytest.fixture(scope="session")
def browser_site() -> Iterator[SiteServer]:
    with SiteServer() as site:
        yield site


@pytest.fixture(scope="session", autouse=True)
def browser_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session checkpoints of these tests go to a temporary folder, never the user's agent home."""
    folder = tmp_path_factory.mktemp("browser-state")
    previous = os.environ.get("RPA_BROWSER_STATE_DIR")
    os.environ["RPA_BROWSER_STATE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("RPA_BROWSER_STATE_DIR", None)
    else:
        os.environ["RPA_BROWSER_STATE_DIR"] = previous


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StepEnvironment]:
    """A step environment with the session `main` open (headless), shared by a module's tests.

    Tests using it run on the module's loop: mark them `pytest.mark.asyncio(loop_scope="module")`.
    """
    env = StepEnvironment(
        artifacts_dir=tmp_path_factory.mktemp("browser-artifacts"),
        secrets={"erp.username": USER, "erp.password": PASSWORD, "vault.key": "k3y-for-sealing"},
    )
    await env.run(open_, {})
    try:
        yield env
    finally:
        await env.aclose()
        await stop_playwright_for_loop()


def chromium_processes(root: psutil.Process) -> list[psutil.Process]:
    """The Chromium processes below `root` (any depth)."""
    found = []
    for child in root.children(recursive=True):
        try:
            if "chrom" in child.name().lower():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found

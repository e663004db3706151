"""The studio window against a real orchestrator (uvicorn on 127.0.0.1 in the test's loop), with an
in-memory keyring. Orchestrator calls run in worker threads awaited on the test's loop, so tests
wait with `until()` (which yields to the loop), never with a blocking wait.

- `owner`, `url`: an organisation's owner and the live server's base URL.
- `window`: a `StudioWindow` on a temporary config folder, not signed in.
- `signed_in`: the same window signed in as `owner` (no TOTP).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from studio.app import StudioWindow
from tests.agent.keyrings import MemoryKeyring
from tests.live_api import memory_keyring, owner, url
from tests.orchestrator._live_server import live
from tests.orchestrator.conftest import PASSWORD, Member, app, settings, sqlite_template, tenant

__all__ = [  # fixtures used here
    "app",
    "live",
    "memory_keyring",
    "owner",
    "settings",
    "sqlite_template",
    "tenant",
    "url",
]

SHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).parents[2] / "screenshots"))


@pytest.fixture
def database_url() -> None:
    """SQLite only: the studio speaks to the API; the database behind it is tested elsewhere."""
    return None


async def until(condition: Callable[[], object], timeout_s: float = 15.0) -> None:
    """Wait for `condition()` while the loop (the server, the worker threads' results) and Qt run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {condition}")
        QApplication.processEvents()
        await asyncio.sleep(0.02)


@pytest.fixture
async def window(qtbot: QtBot, tmp_path: Path, memory_keyring: MemoryKeyring) -> AsyncIterator[StudioWindow]:
    studio = StudioWindow(config=tmp_path / "studio", templates=[])
    qtbot.addWidget(studio)
    studio.resize(1400, 900)
    studio.show()
    yield studio
    studio.document.undo_stack.mark_clean()  # no "save changes?" question at close


@pytest.fixture
async def signed_in(window: StudioWindow, url: str, owner: Member) -> StudioWindow:
    await asyncio.to_thread(window.remote.connections.sign_in, url, owner.email, PASSWORD)
    window.remote.connection_changed.emit()
    await window.remote.refresh_credentials()
    return window

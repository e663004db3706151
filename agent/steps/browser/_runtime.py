"""Finding Chromium and ffmpeg, and the one Playwright driver per event loop.

Playwright's objects belong to the event loop that created them, so the driver is kept per loop
(an agent has one loop: one driver for the whole process, started once, ~0.7 s saved on every
later session). The driver is a Node process reading our commands on its stdin; when this
process dies, even by SIGKILL, that pipe closes and the driver closes every browser it launched
before exiting (`gracefullyCloseAll` on the transport's close). That is what keeps Chromium from
outliving the agent; `tests/agent/steps/browser/test_lifecycle.py` kills an agent-like process
with SIGKILL and counts its Chromium processes down to zero.

Video needs Playwright's ffmpeg, which cannot be downloaded everywhere: a private
`PLAYWRIGHT_BROWSERS_PATH` gets `ffmpeg-<revision>/ffmpeg-linux` linked to an ffmpeg we have
(`RPA_FFMPEG`, the `imageio-ffmpeg` package's binary, or `ffmpeg` on PATH). Chromium itself is
always passed as `executable_path`, so that private folder never hides a browser.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import shutil
import sys
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.capabilities import find_chromium
from agent.steps.browser._errors import map_playwright_errors, require_playwright
from shared.errors import MissingDependency, StepError

if TYPE_CHECKING:
    from playwright.async_api import Playwright

__all__ = [
    "BrowserPool",
    "chromium_executable",
    "ffmpeg_executable",
    "playwright_for_loop",
    "prepare_browsers_path",
    "shared_browsers",
]

log = logging.getLogger(__name__)

_DRIVERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, Playwright]] = weakref.WeakKeyDictionary()
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def _playwright_own_chromium() -> str | None:
    """Playwright's downloaded Chromium, when `playwright install chromium` was run."""
    base = os.environ.get("RPA_PLAYWRIGHT_BROWSERS") or str(Path.home() / ".cache" / "ms-playwright")
    for pattern in ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-win*/chrome.exe"):
        found = sorted(glob.glob(os.path.join(base, pattern)))
        if found:
            return found[-1]
    return None


def chromium_executable() -> str:
    """The Chromium to launch: `RPA_CHROMIUM`, else Playwright's own, else the system's.

    Raises:
        MissingDependency: when none is found (or `RPA_CHROMIUM` is not an executable file).
    """
    configured = os.environ.get("RPA_CHROMIUM")
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        raise StepError(
            f"RPA_CHROMIUM={configured} is not an executable file",
            kind="dependency",
            retryable=False,
        )
    found = _playwright_own_chromium() or find_chromium()
    if found is None:
        raise MissingDependency("Chromium", system_package="chromium")
    return found


def ffmpeg_executable() -> str | None:
    """An ffmpeg binary for video recording: `RPA_FFMPEG`, imageio-ffmpeg's, or PATH's."""
    configured = os.environ.get("RPA_FFMPEG")
    if configured and os.access(configured, os.X_OK):
        return configured
    try:
        import importlib

        return str(importlib.import_module("imageio_ffmpeg").get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


def _ffmpeg_revision() -> str | None:
    api = require_playwright()
    package = Path(api.__file__).resolve().parent.parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(package.read_text())["browsers"]
    except (OSError, ValueError, KeyError):
        return None
    for browser in browsers:
        if browser.get("name") == "ffmpeg":
            return str(browser["revision"])
    return None


def prepare_browsers_path() -> None:
    """Point Playwright's driver at a private folder holding a link to our ffmpeg (for video).

    Done once, before the driver starts (it reads the variable at start). A path the user set
    is kept as it is.
    """
    if os.environ.get("PLAYWRIGHT_BROWSERS_PATH"):
        return
    revision, ffmpeg = _ffmpeg_revision(), ffmpeg_executable()
    folder = Path(tempfile.gettempdir()) / f"rpa-playwright-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    if revision and ffmpeg:
        target = folder / f"ffmpeg-{revision}" / ("ffmpeg-win64.exe" if sys.platform == "win32" else "ffmpeg-linux")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        current = os.path.realpath(target) if target.is_symlink() else None
        if not target.exists() or (current is not None and current != os.path.realpath(ffmpeg)):
            # Missing, or a link left by another installation (possibly dangling): replace it
            # atomically, so a process starting at the same time never sees no ffmpeg.
            staged = target.with_name(f".{target.name}.{os.getpid()}")
            staged.unlink(missing_ok=True)
            try:
                staged.symlink_to(ffmpeg)
            except OSError:
                shutil.copyfile(ffmpeg, staged)
                staged.chmod(0o755)
            os.replace(staged, target)
    os.environ["PLAYWRIGHT_BROWSERS_PATH"] = str(folder)


async def playwright_for_loop() -> Playwright:
    """The Playwright driver of the running loop, started on first use."""
    loop = asyncio.get_running_loop()
    lock = _LOCKS.setdefault(loop, asyncio.Lock())
    async with lock:
        found = _DRIVERS.get(loop)
        if found is not None:
            return found[1]
        api = require_playwright()
        prepare_browsers_path()
        manager = api.async_playwright()
        with map_playwright_errors("starting Playwright"):
            playwright = await manager.start()
        _DRIVERS[loop] = (manager, playwright)
        started: Playwright = playwright
        return started


async def stop_playwright_for_loop() -> None:
    """Stop the running loop's driver (tests and a host shutting down)."""
    found = _DRIVERS.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found[1].stop()


class BrowserPool:
    """Chromium processes shared by the sessions open at the same time with the same launch options.

    Sessions are isolated by their browser contexts (own cookies, storage, cache), so two
    sessions of one execution need not pay for two Chromiums. A browser is closed as soon as its
    last session closes: no Chromium is left once the executions that used it have ended.
    """

    def __init__(self) -> None:
        self._browsers: dict[tuple[int, str], tuple[Any, int]] = {}
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    @staticmethod
    def _key(launch: dict[str, Any]) -> tuple[int, str]:
        return id(asyncio.get_running_loop()), json.dumps(launch, sort_keys=True)

    async def acquire(self, playwright: Playwright, launch: dict[str, Any]) -> Any:
        """A running browser for these launch options (launched on first use)."""
        key = self._key(launch)
        async with self._loop_lock():
            found = self._browsers.get(key)
            if found is not None and found[0].is_connected():
                self._browsers[key] = (found[0], found[1] + 1)
                return found[0]
            browser = await playwright.chromium.launch(**launch)
            self._browsers[key] = (browser, 1)
            return browser

    async def release(self, browser: Any) -> None:
        """One session fewer on `browser`; the last one closes it."""
        async with self._loop_lock():
            for key, (held, count) in list(self._browsers.items()):
                if held is browser:
                    if count > 1:
                        self._browsers[key] = (held, count - 1)
                        return
                    del self._browsers[key]
                    break
        try:
            await browser.close()
        except Exception as exc:  # already gone (crashed, killed): nothing left to close
            log.debug("closing a browser failed: %s", exc)

    def open_count(self) -> int:
        """How many browsers are running (for tests and the agent's status)."""
        return len(self._browsers)

    def _loop_lock(self) -> asyncio.Lock:
        return self._locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())


shared_browsers = BrowserPool()
"""The process's pool of shared browsers."""

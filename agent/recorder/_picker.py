"""The element picker and the selector tester, answering `pick`, `test_selector` and `highlight`.

`pick` runs Playwright's own picker (`page.pick_locator()`, public): elements are highlighted
under the mouse and the one clicked is answered with its normalised selector, the ranked
fallbacks and the fingerprint (the browser family's `describe_element`). Playwright's picker
turns its recording mode off, so recording is started again once the pick ends. A pick runs
as a task: other commands (a `stop`) are answered meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from agent.recorder._protocol import HighlightCommand, PickCommand, SelectorCheckCommand
from agent.steps.browser._selectors import SelectorSyntaxError, check_selector

if TYPE_CHECKING:
    from agent.recorder._session import RecorderSession

__all__ = ["Picker"]

log = logging.getLogger(__name__)


class Picker:
    """Answers the picker's commands for one recording session."""

    def __init__(self, session: RecorderSession) -> None:
        self._session = session
        self._task: asyncio.Task[None] | None = None
        self._page: Any = None

    async def handle(self, command: PickCommand | SelectorCheckCommand | HighlightCommand) -> None:
        """Run one command; its answer (or an `error` event with its id) is emitted."""
        if isinstance(command, PickCommand):
            if self._task is not None and not self._task.done():
                self._error("a pick is already running", "busy", command.id)
                return
            self._task = asyncio.create_task(self._pick(command))
        elif isinstance(command, SelectorCheckCommand):
            await self._test(command)
        else:
            await self._highlight(command)

    async def cancel(self) -> None:
        """End a running pick (the session is stopping)."""
        if self._task is None or self._task.done():
            return
        if self._page is not None:
            with contextlib.suppress(Exception):
                await self._page.cancel_pick_locator()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task

    def _error(self, message: str, kind: str, command_id: str | None) -> None:
        self._session.emitter.error(message, kind=kind, command_id=command_id)

    async def _pick(self, command: PickCommand) -> None:
        session = self._session
        page = self._page = session.active_page
        if page is None or session.adapter is None:
            self._error("no open tab to pick in", "no_page", command.id)
            return
        # Playwright's picker turns its recording mode off; the recording is stopped (its pending
        # actions flushed) first and started again once the pick ends.
        await session.adapter.stop()
        try:
            locator = await page.pick_locator()
        except Exception as err:  # cancelled by the user or the page closed
            self._error(f"picking ended without an element: {err}", "pick_cancelled", command.id)
            return
        finally:
            self._page = None
            try:
                await session.adapter.start()
            except Exception as err:  # the browser is going away: the stop that follows says so
                log.debug("recording not restarted after a pick: %s", err)
                session.emitter.error("recording could not resume after the pick", kind="record")
        selector = _selector_of(locator)
        target = await session.describer.describe_locator(locator, selector)
        count = await _count(page, selector)
        session.emitter.emit(
            "picked", id=command.id, target=target if target is not None else {"selector": selector}, count=count
        )

    async def _test(self, command: SelectorCheckCommand) -> None:
        page = self._session.active_page
        selectors = _selectors(command)
        if not selectors:
            self._error("test_selector needs a selector or a target with a selector", "bad_command", command.id)
            return
        for selector in selectors:
            try:
                check_selector(selector)
            except SelectorSyntaxError as err:
                self._error(str(err), "invalid_selector", command.id)
                return
        if page is None:
            self._error("no open tab to test the selector in", "no_page", command.id)
            return
        counts = [await _count(page, s) for s in selectors]
        results = [{"selector": s, "count": n} for s, n in zip(selectors, counts, strict=True)]
        winner = next((s for s, n in zip(selectors, counts, strict=True) if n == 1), None)
        if winner is not None:
            await _show(page, winner)
        elif counts[0]:
            await _show(page, selectors[0])
        self._session.emitter.emit(
            "tested", id=command.id, selector=selectors[0], count=counts[0], results=results, match=winner
        )

    async def _highlight(self, command: HighlightCommand) -> None:
        page = self._session.active_page
        if page is None:
            self._error("no open tab to highlight in", "no_page", command.id)
            return
        if not command.selector:
            with contextlib.suppress(Exception):
                await page.hide_highlight()
            self._session.emitter.emit("highlighted", id=command.id, count=0)
            return
        try:
            check_selector(command.selector)
        except SelectorSyntaxError as err:
            self._error(str(err), "invalid_selector", command.id)
            return
        count = await _count(page, command.selector)
        await _show(page, command.selector)
        self._session.emitter.emit("highlighted", id=command.id, selector=command.selector, count=count)


def _selectors(command: SelectorCheckCommand) -> list[str]:
    if command.selector:
        return [command.selector]
    target = command.target or {}
    primary = target.get("selector")
    fallbacks = target.get("fallbacks") or []
    found = [primary] if isinstance(primary, str) and primary else []
    return found + [f for f in fallbacks if isinstance(f, str) and f]


def _selector_of(locator: Any) -> str:
    from agent.steps.browser._describe import selector_of

    return selector_of(locator)


async def _count(page: Any, selector: str) -> int:
    try:
        count: int = await page.locator(selector).count()
    except Exception as err:  # a selector Playwright refuses, or a page mid-navigation
        log.debug("counting %s failed: %s", selector, err)
        return 0
    return count


async def _show(page: Any, selector: str) -> None:
    with contextlib.suppress(Exception):
        await page.hide_highlight()
        await page.locator(selector).highlight()

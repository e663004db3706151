"""Fixtures of the debugger view tests: a qasync loop over the QApplication (the recorder tests reuse it).

The studio's window runs one qasync loop for its whole life (`run_forever`), so asyncio's running
loop is always set while Qt dispatches events. The tests do the same: one loop for the session,
made the running loop while a test runs, and Qt's events processed until a coroutine is done.
(`QEventLoop.run_until_complete` processes Qt events once more after clearing the running loop,
and a task resumed there fails with "'NoneType' object has no attribute 'create_future'".)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


class QtLoop:
    """A qasync event loop: Qt events and asyncio tasks on one thread, as in the studio's window."""

    def __init__(self, app: QApplication) -> None:
        import qasync

        self.app = app
        self.loop = qasync.QEventLoop(app, already_running=True)
        asyncio.events._set_running_loop(None)  # set again for each test only (see `qtloop`)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Process Qt events (asyncio's callbacks among them) until `coroutine` is done."""
        task = asyncio.ensure_future(asyncio.wait_for(coroutine, timeout), loop=self.loop)
        while not task.done():
            self.app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.002)  # let worker threads (sync steps) have the CPU
        return task.result()

    def call(self, function: Callable[[], T]) -> T:
        """Call `function` inside the running loop, as a slot of the studio's window is called."""

        async def inside() -> T:
            return function()

        return self.run(inside())

    def drain(self) -> None:
        """Cancel the tasks a test left behind."""
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.run(asyncio.gather(*pending, return_exceptions=True))

    def close(self) -> None:
        """Close the loop and its worker threads (before the QApplication goes: Qt aborts on a running QThread)."""
        self.loop.stop()  # made with already_running: it counts as running until stopped
        self.loop.close()


@pytest.fixture(scope="session")
def qt_session_loop(qapp: QApplication) -> Iterator[QtLoop]:
    loop = QtLoop(qapp)
    yield loop
    loop.close()


@pytest.fixture
def qtloop(qt_session_loop: QtLoop) -> Iterator[QtLoop]:
    asyncio.events._set_running_loop(qt_session_loop.loop)
    try:
        yield qt_session_loop
        qt_session_loop.drain()
    finally:
        asyncio.events._set_running_loop(None)

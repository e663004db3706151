"""Fixtures of the debugger view tests: a qasync loop over the QApplication (the recorder tests reuse it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from PySide6.QtWidgets import QApplication  # noqa: TID253

T = TypeVar("T")


class QtLoop:
    """A qasync event loop: Qt events and asyncio tasks on one thread, as in the studio's window."""

    def __init__(self, app: QApplication) -> None:
        import qasync

        self.loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        """Run `coroutine` to the end (Qt keeps processing events meanwhile)."""
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def call(self, function: Callable[[], T]) -> T:
        """Call `function` inside the running loop, as a slot of the studio's window is called."""

        async def inside() -> T:
            return function()

        return self.run(inside())

    def close(self) -> None:
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def qtloop(qapp: QApplication) -> Iterator[QtLoop]:
    loop = QtLoop(qapp)
    yield loop
    loop.close()

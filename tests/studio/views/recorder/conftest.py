"""Fixtures of the recorder view tests: Xvfb and the loopback site of the recorder's own tests, the qasync loop."""

from __future__ import annotations

from tests.agent.recorder.conftest import display, site
from tests.studio.views.debugger.conftest import qt_session_loop, qtloop

__all__ = ["display", "qt_session_loop", "qtloop", "site"]

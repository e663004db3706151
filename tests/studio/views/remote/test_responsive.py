"""A slow orchestrator never freezes the window: while a call is held by the server, Qt events
and the loop keep running, and the call completes once the server answers."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from studio.app import StudioWindow
from studio.remote import Connection
from studio.views.remote import WorkflowsPanel
from tests.studio.views.remote.conftest import until

pytestmark = pytest.mark.gui


class _Held(BaseHTTPRequestHandler):
    """Every API call waits until the test releases it, then answers an empty page."""

    release = threading.Event()
    waiting = threading.Event()

    def do_GET(self) -> None:
        type(self).waiting.set()
        type(self).release.wait(10)
        data = json.dumps({"items": [], "total": 0, "limit": 500, "offset": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def held() -> Iterator[str]:
    _Held.release, _Held.waiting = threading.Event(), threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Held)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Held.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


async def test_the_window_keeps_running_while_the_orchestrator_holds_a_call(window: StudioWindow, held: str) -> None:
    remote = window.remote
    connection = Connection(held, "ann@example.com", "org-1", "Acme")
    remote.connections.settings.set("orchestrators", [connection.__dict__])
    remote.connections.activate(connection)
    remote.connections.tokens.set(connection.key, "rt-1")
    remote.connections.client(connection).access_token = "at-1"
    panel = window.dock_widgets["Workflows"].widget()
    assert isinstance(panel, WorkflowsPanel)

    task = asyncio.ensure_future(panel.refresh())
    await until(_Held.waiting.is_set)  # the server holds the first call
    fired: list[int] = []
    QTimer.singleShot(0, lambda: fired.append(1))
    await until(lambda: fired)  # Qt events are still processed...
    assert not task.done()  # ...while the call is in flight
    _Held.release.set()
    assert await task == []
    assert panel.status.text() == "0 workflow(s)"

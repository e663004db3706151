"""The agents' door at the HTTP parser: a storm's refusals answered before any WebSocket exists.

`api/agent_door.py` refuses an agent connection before the WebSocket is accepted, but by then
uvicorn has done most of the work a connection costs in Python: it built a WebSocket protocol,
parsed the request a second time (websockets' own parser), made an ASGI scope and a task, ran the
app's outer middleware, and logged two lines for the answer. A profile of the server during a
10,000-agent reconnect storm put a third of its samples there (the refusals' share of the first
burst, when every agent knocks within a second). This protocol is uvicorn's own HTTP protocol
(httptools) with one change: an upgrade to the agents' path that the handshake gate has no room
for is answered HTTP 503 with its `Retry-After` turn from the parser's callback, in one write of
bytes, and the connection closed. The app, the WebSocket library and the task are never reached;
the gate counts the refusal as the door would (`rpa_agent_handshakes_refused`). Everything else,
admitted upgrades included, goes on exactly as in `HttpToolsProtocol`.

`rpa orchestrator` runs uvicorn with it (`cli.serve`, `http=`); apps served otherwise (tests,
embedders) keep the door in the app, which gives the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from orchestrator.api.routes.agent_socket import BUSY_MESSAGE
from orchestrator.runtime.admission import HandshakeGate

AGENT_SOCKET_PATH = "/api/v1/agents/connect"
"""Where agents connect (`app.py` mounts the agent socket's router under `/api/v1`)."""


def busy_response(retry_after: int, default_headers: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
    """The whole HTTP 503 answer to an upgrade refused with `Retry-After: retry_after` (the same
    body `agent_socket.deny_busy` sends)."""
    body = json.dumps(
        {"error": {"code": "busy", "message": BUSY_MESSAGE, "details": {"retry_after_s": retry_after}}}
    ).encode()
    lines = [b"HTTP/1.1 503 Service Unavailable"]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"retry-after: " + str(retry_after).encode(),
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class AgentDoorProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing the agents' upgrades the gate has no room for."""

    door_path = AGENT_SOCKET_PATH.encode()

    def _gate(self) -> HandshakeGate | None:
        app: Any = self.config.app  # the FastAPI object `cli.serve` passed (a string: no gate found)
        state = getattr(app, "state", None)
        return getattr(state, "agent_handshake_gate", None)

    def handle_websocket_upgrade(self) -> None:
        """Refuse here when the gate is full; otherwise hand over to the WebSocket protocol."""
        gate = self._gate()
        if gate is not None and self.url.split(b"?", 1)[0] == self.door_path:
            retry_after = gate.refusal()
            if retry_after is not None:
                self.transport.write(busy_response(retry_after, self.server_state.default_headers))
                self.transport.close()
                return
            gate.passed()  # on its way to the queue: counted there before it arrives
        super().handle_websocket_upgrade()

"""The agents' WebSocket door: a connection refused cheaply, or straight to its endpoint.

In a reconnect storm every agent opens `/api/v1/agents/connect` at once. Each connection used to
pass the whole middleware stack and the route table (about eighty routes matched in turn) before
the handshake gate could say no, and then was accepted only to be closed (1013): the refused paid
nearly what the admitted did, and came back to pay again. This door stands outermost: a
connection that finds the gate's queue full is answered HTTP 503 with a `Retry-After` (its turn,
`runtime/admission.py`) before the WebSocket is accepted, and one that may queue goes to the
endpoint directly. The middleware it skips has nothing to do for a WebSocket (each passes them
through), and the route stays in the table for the OpenAPI document and for apps without the door.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from orchestrator.api.routes import agent_socket
from orchestrator.runtime.admission import HandshakeGate


class AgentSocketDoor:
    """Refuse an agent connection the handshake gate has no room for; send the others straight to
    `agent_socket.connect`. Everything else passes on to `app`."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        gate: HandshakeGate | None = getattr(scope["app"].state, "agent_handshake_gate", None)
        if gate is None:  # not started: the route answers as it does
            await self.app(scope, receive, send)
            return
        gate.arrived()  # if the HTTP parser let it through (`agent_door_protocol.py`), it is here now
        retry_after = gate.refusal()
        if retry_after is not None:
            await agent_socket.deny_busy(scope, send, retry_after)
            return
        await agent_socket.connect(WebSocket(scope, receive, send))


class HandshakeMetrics:
    """The handshake gate on `/metrics`: waiting, admitted, refused (503), the measured rate."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        gate: HandshakeGate | None = getattr(self.app.state, "agent_handshake_gate", None)
        if gate is None:
            return
        yield GaugeMetricFamily("rpa_agent_handshakes_waiting", "Agent handshakes waiting for admission", gate.waiting)
        yield CounterMetricFamily("rpa_agent_handshakes_admitted", "Places given to agent handshakes", gate.admitted)
        yield CounterMetricFamily(
            "rpa_agent_handshakes_refused", "Agent connections answered 503 (the queue was full)", gate.refused
        )
        yield CounterMetricFamily(
            "rpa_agent_handshakes_refused_late",
            "Queued agent connections answered 503 after waiting in vain",
            gate.refused_late,
        )
        yield GaugeMetricFamily(
            "rpa_agent_handshake_rate", "Agent handshakes admitted per second when the gate is full", gate.rate
        )

"""An agent key holder against a real `rpa orchestrator`: forged log lines, a log flood, and
`hello` lists without end. Each with its control first."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.orchestrator._live import Live, live_server

API = "/api/v1"
BUDGET = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # Each test logs in and enrols (login endpoints): more than the default 20 a minute in all.
    with live_server(
        tmp_path_factory.mktemp("agent-logs"),
        owner=True,
        agent_log_bytes_per_minute=str(BUDGET),
        login_rate_limit_per_minute="100",
    ) as live:
        yield live


def _agent_key(server: Live, name: str) -> str:
    owner = server.login()
    token = httpx.post(f"{server.url}{API}/agents/enrolment-tokens", json={}, headers=owner).json()["token"]
    enrolled = httpx.post(f"{server.url}{API}/agents/enroll", json={"token": token, "name": name})
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["agent_key"])


def _hello(agent: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "hello",
        "id": "h1",
        "protocol_version": 2,
        "name": agent,
        "version": "1.0",
        "capabilities": [],
        "labels": [],
        "max_jobs": 1,
        "steps": [],
        "running": [],
        **fields,
    }


def _connect(server: Live, key: str) -> ClientConnection:
    url = server.url.replace("http://", "ws://") + f"{API}/agents/connect"
    return connect(url, additional_headers={"Authorization": f"Bearer {key}"}, max_size=None, open_timeout=10)


def _settle(ws: ClientConnection) -> None:
    """Every message sent before is handled once a heartbeat sent after it is answered."""
    ws.send(json.dumps({"type": "heartbeat", "id": "hb", "running": [], "sent_at": time.time()}))
    while json.loads(ws.recv(timeout=30))["type"] != "heartbeat.ack":
        pass


def _read_until_closed(ws: ClientConnection) -> None:
    while True:
        assert json.loads(ws.recv(timeout=30))["type"] != "welcome"


def _log(message: str) -> str:
    return json.dumps({"type": "log", "id": f"l{time.monotonic_ns()}", "level": "info", "message": message})


def _server_log(server: Live) -> str:
    return (server.data.parent / "server.log").read_text(encoding="utf-8", errors="replace")


def test_agent_log_lines_cannot_forge_lines_or_drive_the_terminal(server: Live) -> None:
    key = _agent_key(server, "writer")
    forged = "2026-12-07 09:00:00 ERROR rpa.orchestrator: the admin password was reset"
    with _connect(server, key) as ws:
        ws.send(json.dumps(_hello("writer")))
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        ws.send(_log("control: an ordinary line"))
        ws.send(_log(f"innocent\n{forged}\x1b[2J\x1b]0;owned\x07 \u202etxt.exe"))
        _settle(ws)
    text = _server_log(server)
    assert "control: an ordinary line" in text
    assert not any(line.startswith(forged) for line in text.splitlines())
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in text
    assert f"innocent\\n{forged}\\x1b[2J\\x1b]0;owned\\x07 \\u202etxt.exe" in text


def test_an_unhealthy_reason_cannot_forge_lines_either(server: Live) -> None:
    key = _agent_key(server, "sick")
    forged = "2026-12-07 09:00:00 ERROR rpa.orchestrator: the vault was exported"
    with _connect(server, key) as ws:
        ws.send(json.dumps(_hello("sick", protocol_version=3)))
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        for reason in ("control: outbox full", f"disk\n{forged}\x1b[2J", None):
            beat = {"type": "heartbeat", "id": f"u{time.monotonic_ns()}", "running": [], "sent_at": time.time()}
            ws.send(json.dumps(beat if reason is None else {**beat, "unhealthy": reason}))
            while json.loads(ws.recv(timeout=30))["type"] != "heartbeat.ack":
                pass
    text = _server_log(server)
    assert "agent sick takes no jobs: control: outbox full" in text
    assert not any(line.startswith(forged) for line in text.splitlines())
    assert "\x1b" not in text
    assert f"takes no jobs: disk\\n{forged}\\x1b[2J" in text


def test_one_connection_cannot_flood_the_log(server: Live) -> None:
    key = _agent_key(server, "flooder")
    before = len(_server_log(server).encode())
    with _connect(server, key) as ws:
        ws.send(json.dumps(_hello("flooder")))
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
        ws.send(_log("first of the flood"))
        for _ in range(300):  # 3 MB of log text
            ws.send(_log("F" * 10_000))
        _settle(ws)
    grown = len(_server_log(server).encode()) - before
    assert "first of the flood" in _server_log(server)  # the budget lets lines through until it is spent
    assert grown < BUDGET + 16 * 1024, grown


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("steps", [f"plugin.step_{i}" for i in range(20_000)]),
        ("capabilities", [f"cap{i}" for i in range(5_000)]),
        ("labels", [f"label{i}" for i in range(5_000)]),
        ("name", "agent\n2026-12-07 ERROR forged"),
        ("version", "v" * 10_000),
    ],
)
def test_hello_lists_and_strings_are_bounded(server: Live, field: str, value: Any) -> None:
    key = _agent_key(server, f"big-{field}")
    with _connect(server, key) as ws:  # control: the same agent with a sane hello is welcome
        ws.send(json.dumps(_hello(f"big-{field}", steps=["probe.count"], capabilities=["browser"], labels=["eu"])))
        assert json.loads(ws.recv(timeout=30))["type"] == "welcome"
    with _connect(server, key) as ws:
        ws.send(json.dumps(_hello(f"big-{field}", **{field: value})))
        with pytest.raises(ConnectionClosed) as closed:
            _read_until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    assert field in closed.value.rcvd.reason
    listed = httpx.get(f"{server.url}{API}/agents", headers=server.login(), params={"limit": 500})
    assert len(listed.content) < 200_000

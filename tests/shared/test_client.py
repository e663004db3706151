"""`shared.client`: the API client's public names, its session store, and its independence from
the command line (the studio and the tray import it without typer or rich)."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import shared.client
from shared.client import ApiClient, ApiError, Session, load_session, save_session, session_file

ROOT = Path(__file__).resolve().parents[2]


def test_public_names_are_pinned() -> None:
    assert sorted(shared.client.__all__) == [
        "API",
        "Agent",
        "AiUsage",
        "ApiClient",
        "ApiError",
        "Artifact",
        "Credential",
        "Diagnosis",
        "EnrolmentToken",
        "EnrolmentTokenCreated",
        "EventsPage",
        "Execution",
        "ExecutionEvent",
        "FlowProposal",
        "ImportedWorkflow",
        "Me",
        "OrgMembership",
        "Page",
        "Priority",
        "Problem",
        "Session",
        "StaleRevision",
        "TagCount",
        "Transition",
        "ValidationReport",
        "Version",
        "VersionSummary",
        "Workflow",
        "WorkflowDiff",
        "WorkflowSaved",
        "WorkflowSummary",
        "load_session",
        "save_session",
        "session_file",
    ]
    for name in shared.client.__all__:
        assert hasattr(shared.client, name), f"shared.client.{name} is exported but missing"


def test_the_client_imports_and_runs_without_the_command_line_libraries() -> None:
    blocker = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"typer", "rich", "click", "cli", "PySide6"}:
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
from shared.client import ApiClient, ApiError
try:
    ApiClient("http://127.0.0.1:9").request("GET", "/workflows")
except ApiError as error:
    print(error.code)
"""
    done = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unreachable"


def test_a_session_is_kept_for_its_owner_only_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = save_session(Session("http://127.0.0.1:8400", "rt-secret"))
    assert path == session_file() == tmp_path / "config" / "rpa" / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_session() == Session("http://127.0.0.1:8400", "rt-secret")
    client = ApiClient.from_session()
    assert (client.url, client.refresh_token, client.access_token) == ("http://127.0.0.1:8400", "rt-secret", "")


def test_a_session_file_loosened_by_hand_is_tightened_on_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    path.write_text("{}")
    path.chmod(0o644)
    save_session(Session("http://x", "rt"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_refresh_token_stays_out_of_repr() -> None:
    assert "rt-secret" not in repr(Session("http://x", "rt-secret"))


@pytest.mark.parametrize("content", [None, "not json", '{"url": "http://x"}', "[]"])
def test_no_usable_session_is_a_clear_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "session.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ApiError) as caught:
        load_session(path)
    assert caught.value.code == "no_session"
    assert str(path) in caught.value.message
    assert "rpa login" in caught.value.message


class _Orchestrator(BaseHTTPRequestHandler):
    """Just enough of the orchestrator's API on loopback: a readiness probe, token refresh, and one
    resource that wants the refreshed access token."""

    ready = True
    refreshed: list[str] = []

    def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/readyz":
            self._answer(200 if type(self).ready else 503, {})
        elif self.headers.get("Authorization") == "Bearer access-2":
            self._answer(200, {"items": []})
        else:
            self._answer(401, {"error": {"code": "unauthorized", "message": "the access token has expired"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).refreshed.append(body["refresh_token"])
        self._answer(200, {"access_token": "access-2", "refresh_token": "refresh-2"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def orchestrator() -> Iterator[str]:
    _Orchestrator.ready, _Orchestrator.refreshed = True, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orchestrator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_ready_follows_the_readiness_probe_and_is_false_when_unreachable(orchestrator: str) -> None:
    assert ApiClient(orchestrator).ready() is True
    _Orchestrator.ready = False
    assert ApiClient(orchestrator).ready() is False
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        assert ApiClient(closed).ready() is False


def test_an_expired_access_token_is_refreshed_once_and_the_rotated_session_kept(
    orchestrator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("RPA_TOKEN", raising=False)
    save_session(Session(orchestrator, "refresh-1"))
    client = ApiClient.from_session()
    client.access_token = "access-1"  # expired: the server answers 401
    assert client.request("GET", "/workflows") == {"items": []}
    assert _Orchestrator.refreshed == ["refresh-1"]
    assert load_session() == Session(orchestrator, "refresh-2")  # refresh tokens rotate


def test_a_refused_request_is_an_api_error_in_the_apis_words(orchestrator: str) -> None:
    with pytest.raises(ApiError) as caught:
        ApiClient(orchestrator, access_token="access-1").request("GET", "/workflows")
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert caught.value.message == "the access token has expired"

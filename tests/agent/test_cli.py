"""`rpa agent enroll` against a real HTTP server on loopback, `rpa agent doctor`, and the group."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backends import fail
from typer.testing import CliRunner

from agent.cli import app
from tests.agent.keyrings import MemoryKeyring

TOKEN = "et_enrol_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
KEY = "ak_live_0123456789abcdef0123456789abcdef"
ENROLLED = {"agent_id": "a-42", "org_id": "o-7", "agent_key": KEY, "name": "bot-1", "labels": ["finance", "linux"]}
REFUSED = {
    "error": {
        "code": "invalid_token",
        "message": "enrolment token is invalid or expired",
        "details": None,
        "request_id": "req-1",
    }
}

runner = CliRunner()


@dataclass
class FakeOrchestrator:
    """A real HTTP server answering every POST with one fixed status and body."""

    url: str
    status: int
    body: dict[str, Any]
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@pytest.fixture
def orchestrator(request: pytest.FixtureRequest) -> Iterator[FakeOrchestrator]:
    status, body = getattr(request, "param", (201, ENROLLED))
    fake = FakeOrchestrator("", status, body)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            fake.requests.append((self.path, json.loads(self.rfile.read(length))))
            answer = json.dumps(fake.body).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def assert_no_secrets(output: str) -> None:
    assert TOKEN not in output
    assert KEY not in output


# -- enroll --------------------------------------------------------------------------------------


def test_enroll_with_a_key_file_stores_identity_and_private_key(
    orchestrator: FakeOrchestrator, agent_home: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "agent.key"

    result = runner.invoke(
        app,
        [
            "enroll",
            orchestrator.url,
            TOKEN,
            "--name",
            "bot-1",
            "--labels",
            "finance, linux,",
            "--key-file",
            str(key_file),
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"Enrolled as bot-1 (agent id a-42) in organisation o-7; key stored in {key_file}")
    assert_no_secrets(result.output)
    path, sent = orchestrator.requests[0]
    assert path == "/api/v1/agents/enroll"
    assert sent == {
        "token": TOKEN,
        "name": "bot-1",
        "hostname": socket.gethostname(),
        "labels": ["finance", "linux"],
        "version": sent["version"],
    }
    assert sent["version"]
    assert key_file.read_text().strip() == KEY
    assert mode(key_file) == 0o600
    assert mode(agent_home) == 0o700
    identity = json.loads((agent_home / "agent.json").read_text())
    assert KEY not in json.dumps(identity)
    assert TOKEN not in json.dumps(identity)
    assert identity == {
        "url": orchestrator.url.rstrip("/"),
        "agent_id": "a-42",
        "org_id": "o-7",
        "name": "bot-1",
        "labels": ["finance", "linux"],
        "key_store": str(key_file),
    }


def test_enroll_keeps_the_key_in_the_os_keyring_and_names_the_host_by_default(
    orchestrator: FakeOrchestrator, agent_home: Path, memory_keyring: MemoryKeyring
) -> None:
    result = runner.invoke(app, ["enroll", orchestrator.url, TOKEN])

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("; key stored in the OS keyring")
    assert orchestrator.requests[0][1]["name"] == socket.gethostname()
    assert orchestrator.requests[0][1]["labels"] == []
    assert memory_keyring.passwords == {("rpa-agent", "a-42"): KEY}
    assert_no_secrets(result.output)


@pytest.mark.parametrize("orchestrator", [(401, REFUSED)], indirect=True)
def test_enroll_refused_prints_the_servers_message_and_stores_nothing(
    orchestrator: FakeOrchestrator, agent_home: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["enroll", orchestrator.url, TOKEN, "--key-file", str(tmp_path / "agent.key")])

    assert result.exit_code == 2
    assert result.output.strip() == "error: enrolment token is invalid or expired"
    assert_no_secrets(result.output)
    assert not (agent_home / "agent.json").exists()
    assert not (tmp_path / "agent.key").exists()


@pytest.mark.parametrize("orchestrator", [(502, {"detail": "bad gateway"})], indirect=True)
def test_enroll_error_without_the_error_body_names_the_status(
    orchestrator: FakeOrchestrator, agent_home: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["enroll", orchestrator.url, TOKEN, "--key-file", str(tmp_path / "k")])

    assert result.exit_code == 2
    assert "answered HTTP 502" in result.output


@pytest.mark.parametrize("orchestrator", [(201, {"agent_id": "a-1"})], indirect=True)
def test_enroll_with_an_incomplete_answer_is_an_error(
    orchestrator: FakeOrchestrator, agent_home: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["enroll", orchestrator.url, TOKEN, "--key-file", str(tmp_path / "k")])

    assert result.exit_code == 2
    assert "unexpected enrolment answer" in result.output
    assert not (agent_home / "agent.json").exists()


def test_enroll_to_an_unreachable_orchestrator_names_the_url(agent_home: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    result = runner.invoke(app, ["enroll", url, TOKEN, "--key-file", str(tmp_path / "k")])

    assert result.exit_code == 2
    assert f"cannot reach the orchestrator at {url}" in result.output
    assert_no_secrets(result.output)


def test_enroll_without_a_usable_keyring_fails_before_spending_the_token(
    orchestrator: FakeOrchestrator, agent_home: Path
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        result = runner.invoke(app, ["enroll", orchestrator.url, TOKEN])
    finally:
        keyring.set_keyring(previous)

    assert result.exit_code == 2
    assert "--key-file PATH" in result.output
    assert orchestrator.requests == []
    assert_no_secrets(result.output)


# -- doctor and the group ------------------------------------------------------------------------


def test_doctor_shows_capabilities_and_that_no_identity_is_stored(agent_home: Path) -> None:
    result = runner.invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    for name in ("core", "files", "http", "browser", "desktop", "ocr"):
        assert name in result.output
    assert f"identity: none in {agent_home}" in result.output


def test_doctor_after_enrolment_shows_the_identity_and_where_the_key_is(
    orchestrator: FakeOrchestrator, agent_home: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "agent.key"
    assert runner.invoke(app, ["enroll", orchestrator.url, TOKEN, "--key-file", str(key_file)]).exit_code == 0

    result = runner.invoke(app, ["doctor"])
    assert "identity: bot-1 (agent id a-42, organisation o-7)" in result.output
    assert f"key: stored in {key_file}" in result.output
    assert_no_secrets(result.output)

    key_file.chmod(0o644)
    result = runner.invoke(app, ["doctor"])
    assert "chmod 600" in result.output
    assert_no_secrets(result.output)


def test_rpa_agent_help_lists_the_subcommands() -> None:
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "enroll" in result.output
    assert "doctor" in result.output
    assert "--max-jobs" in result.output


def test_rpa_agent_before_enrolment_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPA_AGENT_HOME", str(tmp_path / "home"))
    result = runner.invoke(app, [])

    assert result.exit_code == 2
    assert "no agent identity" in result.output
    assert "rpa agent enroll URL TOKEN" in result.output
    assert "Traceback" not in result.output


def test_agent_group_is_registered_for_the_rpa_command() -> None:
    (found,) = [ep for ep in entry_points(group="rpa.cli") if ep.name == "agent"]
    assert found.value == "agent.cli:app"
    assert found.load() is app


def test_rpa_agent_refuses_an_extra_label_the_orchestrator_would_refuse(
    orchestrator: FakeOrchestrator, agent_home: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "agent.key"
    enrolled = runner.invoke(app, ["enroll", orchestrator.url, TOKEN, "--key-file", str(key_file)])
    assert enrolled.exit_code == 0, enrolled.output

    result = runner.invoke(app, ["--key-file", str(key_file), "--labels", "finance,two words"])

    assert result.exit_code == 2
    assert "--labels: 'two words' is not a label" in result.output
    assert "Traceback" not in result.output


def test_doctor_says_when_the_outbox_cannot_be_written_and_when_it_can_again(agent_home: Path) -> None:
    from agent.outbox import Outbox
    from tests.agent.full_disk import fill, free, small_disk

    with small_disk(agent_home):
        Outbox(agent_home / "outbox.db").close()  # the agent ran here before
        result = runner.invoke(app, ["doctor"])
        assert f"outbox: {agent_home / 'outbox.db'} can be written" in result.output  # control
        fill(agent_home)
        result = runner.invoke(app, ["doctor"])
        assert result.exit_code == 0, result.output
        assert "problem: outbox" in result.output
        # SQLite's words: "disk I/O error" when even its shared-memory file cannot grow, "database or
        # disk is full" when the write-ahead log cannot
        assert (
            "cannot be written (disk I/O error; 0.0 MB free)" in result.output
            or "cannot be written (database or disk is full; 0.0 MB free)" in result.output
        )
        assert "takes none until it can" in result.output
        free(agent_home)
        result = runner.invoke(app, ["doctor"])
        assert "can be written" in result.output

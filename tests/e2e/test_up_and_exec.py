"""`rpa up` (an orchestrator and a local agent in one command) and the `rpa exec` commands
against it, as a user types them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli.supervise import free_port, wait_for
from tests.e2e._cluster import processes_mentioning

RPA = str(Path(sys.executable).parent / "rpa")

pytestmark = pytest.mark.slow


def test_rpa_up_then_exec_start_status_logs_and_cancel(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"})
    port = free_port()
    data = tmp_path / "up"
    console = tmp_path / "up.out"
    with open(console, "w") as out:
        up = subprocess.Popen(
            [RPA, "up", "--port", str(port), "--data-dir", str(data)], stdout=out, stderr=subprocess.STDOUT, env=env
        )

    def rpa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([RPA, *args], capture_output=True, text=True, env=env, timeout=120)

    try:
        wait_for(
            lambda: "Ctrl-C stops" in console.read_text() or up.poll() is not None,
            90,
            "rpa up to be ready",
            interval=0.2,
        )
        assert up.poll() is None, console.read_text()
        assert "agent 'local' online" in console.read_text()
        session = tmp_path / "config" / "rpa" / "session.json"
        assert session.stat().st_mode & 0o777 == 0o600
        assert (data / "admin.json").stat().st_mode & 0o777 == 0o600

        flow = {
            "schema": "rpa.flow/1",
            "name": "Greeter",
            "inputs": {"who": {"type": "string", "default": "x"}},
            "nodes": [{"id": "hello", "type": "data.template", "params": {"template": "hello {{ inputs.who }}"}}],
            "outputs": {"greeting": "{{ steps.hello.output }}"},
        }
        slow = {
            "schema": "rpa.flow/1",
            "name": "Slow",
            "nodes": [{"id": "nap", "type": "core.wait", "params": {"seconds": 30}}],
        }
        from shared.client import ApiClient

        previous = os.environ.get("XDG_CONFIG_HOME")
        os.environ["XDG_CONFIG_HOME"] = env["XDG_CONFIG_HOME"]
        try:
            client = ApiClient.from_session()
            for document in (flow, slow):
                made = client.request("POST", "/workflows", json={"name": document["name"], "document": document})
                client.request("POST", f"/workflows/{made['id']}/publish", json={})
        finally:
            if previous is None:
                os.environ.pop("XDG_CONFIG_HOME")
            else:
                os.environ["XDG_CONFIG_HOME"] = previous

        started = rpa("exec", "start", "Greeter", "-i", "who=Ada", "--wait")
        assert started.returncode == 0, started.stdout + started.stderr
        assert '■ succeeded {"greeting": "hello Ada"}' in started.stdout
        execution_id = started.stdout.split()[1]
        status = rpa("exec", "status", execution_id, "--json")
        assert json.loads(status.stdout)["outputs"] == {"greeting": "hello Ada"}
        logs = rpa("exec", "logs", execution_id)
        assert "✔ hello" in logs.stdout

        nap = rpa("exec", "start", "Slow")
        nap_id = nap.stdout.split()[1]
        wait_for(lambda: "running" in rpa("exec", "status", nap_id).stdout, 30, "the nap to run", interval=0.3)
        cancelled = rpa("exec", "cancel", nap_id, "--reason", "test")
        assert cancelled.returncode == 0, cancelled.stderr
        wait_for(lambda: "cancelled" in rpa("exec", "status", nap_id).stdout, 20, "the cancel", interval=0.3)

        unknown = rpa("exec", "start", "No such workflow")
        assert unknown.returncode == 2
        assert "no single workflow named 'No such workflow'" in unknown.stderr
        assert "Traceback" not in unknown.stderr
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    output = console.read_text()
    assert up.returncode == 0, output
    assert "stopped" in output
    assert processes_mentioning(str(data)) == []

"""Real processes for end-to-end tests: an orchestrator (`rpa orchestrator`) and agents
(`rpa agent`), each a child process on loopback, driven through the public HTTP API.

Fast lease settings keep fault scenarios short: heartbeats every 0.5 s, an agent is
unresponsive after 3 missed beats, and a gone agent's executions are requeued after 1 s.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
RPA = str(BIN / "rpa")
PASSWORD = "Cluster-Test-42-Robots!"
API = "/api/v1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update(extra or {})
    return env


class Orchestrator:
    """`rpa orchestrator` in a child process; restartable on the same data dir and port."""

    def __init__(self, root: Path, *, database_url: str | None = None, grace_s: float = 1.0,
                 heartbeat_s: float = 0.5) -> None:
        self.root = root
        self.data = root / "orchestrator"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = _clean_env({"HOME": str(root / "home"), "RPA_ENVIRONMENT": "test",
                               "RPA_AGENT_GRACE_S": str(grace_s), "RPA_HEARTBEAT_INTERVAL_S": str(heartbeat_s),
                               "RPA_CANCEL_GRACE_S": "3", "RPA_RATE_LIMIT_PER_MINUTE": "100000",
                               "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "10000"})
        if database_url:
            self.env["RPA_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "orchestrator.log"
        self.token = ""

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([RPA, "orchestrator", "--port", str(self.port), "--data-dir",
                                             str(self.data)], stdout=out, stderr=subprocess.STDOUT, env=self.env)

        def ready() -> bool:
            assert self.process is not None
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, 60, "the orchestrator to be ready", interval=0.1)

    def setup_owner(self) -> None:
        created = subprocess.run([RPA, "admin", "create", "--email", "owner@example.com", "--org", "Acme",
                                  "--password", PASSWORD, "--data-dir", str(self.data)],
                                 capture_output=True, text=True, env=self.env, timeout=120)
        assert created.returncode == 0, created.stderr
        self.login()

    def login(self) -> None:
        response = httpx.post(f"{self.url}{API}/auth/login", json={"email": "owner@example.com", "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.token = response.json()["access_token"]

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    # --- the API ---------------------------------------------------------------------------------

    def api(self, method: str, path: str, expect: int | None = 200, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}{API}{path}", headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=30, **kwargs)
        if response.status_code == 401:  # access tokens are short-lived
            self.login()
            response = httpx.request(method, f"{self.url}{API}{path}",
                                     headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kwargs)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def publish(self, document: dict[str, Any]) -> str:
        workflow = self.api("POST", "/workflows", 201, json={"name": document["name"], "document": document})
        self.api("POST", f"/workflows/{workflow['id']}/publish", 201, json={})
        return str(workflow["id"])

    def start_execution(self, workflow_id: str, **body: Any) -> str:
        return str(self.api("POST", "/executions", 201, json={"workflow_id": workflow_id, **body})["id"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api("GET", f"/executions/{execution_id}")
        return result

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.api("GET", f"/executions/{execution_id}/events", params={"after_seq": after, "limit": 500})
            found += page["items"]
            if not page.get("next_after_seq"):
                return found
            after = page["next_after_seq"]

    def stream(self, execution_id: str, *, follow: bool = False, timeout: float = 60) -> list[tuple[str, Any]]:
        """The execution's Server-Sent Events, as (event, data) pairs, until the stream ends."""
        import json

        found: list[tuple[str, Any]] = []
        with httpx.stream("GET", f"{self.url}{API}/executions/{execution_id}/stream", params={"follow": follow},
                          headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    found.append((kind, json.loads(line[6:])))
        return found

    def wait_state(self, execution_id: str, states: set[str], timeout: float = 60) -> dict[str, Any]:
        return wait_for(lambda: (lambda e: e if e["state"] in states else None)(self.execution(execution_id)),
                        timeout, f"execution {execution_id} to reach {sorted(states)}", interval=0.1)

    def enrolment_token(self, labels: list[str] | None = None) -> str:
        return str(self.api("POST", "/agents/enrolment-tokens", 201, json={"labels": labels or []})["token"])


class Agent:
    """`rpa agent` in a child process, enrolled with its own home and key file."""

    def __init__(self, root: Path, orchestrator: Orchestrator, name: str, *, labels: list[str] | None = None,
                 max_jobs: int = 1, url: str | None = None) -> None:
        self.name = name
        self.home = root / f"agent-{name}"
        self.key_file = self.home / "agent.key"
        self.orchestrator = orchestrator
        self.max_jobs = max_jobs
        self.url = url
        self.env = _clean_env({"HOME": str(root / "home"), "RPA_AGENT_HOME": str(self.home),
                               "RPA_AGENT_RECONNECT_MAX_S": "1"})
        self.log = root / f"agent-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        token = orchestrator.enrolment_token(labels)
        enrolled = subprocess.run([RPA, "agent", "enroll", orchestrator.url, token, "--name", name,
                                   "--key-file", str(self.key_file)],
                                  capture_output=True, text=True, env=self.env, timeout=60)
        assert enrolled.returncode == 0, enrolled.stderr
        self.agent_id = enrolled.stdout.split("agent id ")[1].split(")")[0]

    def start(self) -> None:
        args = [RPA, "agent", "--key-file", str(self.key_file), "--max-jobs", str(self.max_jobs)]
        if self.url:
            args += ["--url", self.url]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=self.env)

    def wait_online(self, timeout: float = 30) -> None:
        wait_for(lambda: self.orchestrator.api("GET", f"/agents/{self.agent_id}")["status"] in ("online", "busy"),
                 timeout, f"agent {self.name} to be online", interval=0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def completed_twice(events: list[dict[str, Any]]) -> list[str]:
    """Node instances whose success is journaled more than once, or that started again after
    succeeding: none may exist."""
    done: set[str] = set()
    twice: list[str] = []
    for event in events:
        if event["type"] == "node.succeeded":
            if event["path"] in done:
                twice.append(event["path"])
            done.add(event["path"])
        elif event["type"] == "node.started" and event["path"] in done:
            twice.append(event["path"])
    return twice


def gapless(events: list[dict[str, Any]]) -> bool:
    return [e["seq"] for e in events] == list(range(1, len(events) + 1))

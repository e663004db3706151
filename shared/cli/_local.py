"""An orchestrator and agents on this machine, each a child process of the `rpa` command:
what `rpa up` and `rpa demo` run, and what the end-to-end tests drive.

Only public interfaces are used (the `rpa` console script and the HTTP API), so this module
needs neither the server nor the agent package.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shared.cli._client import ApiClient, ApiError

RPA = str(Path(sys.executable).parent / "rpa")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    """Poll `condition` until it returns something true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without `RPA_*` settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update(extra or {})
    return env


class _Child:
    process: subprocess.Popen[bytes] | None = None
    log: Path

    def _spawn(self, args: list[str], env: dict[str, str]) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self, timeout: float = 20) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class LocalOrchestrator(_Child):
    """`rpa orchestrator` on loopback with its own data dir; restartable on the same port."""

    def __init__(self, data_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None,
                 log: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(env)
        self.log = log or data_dir.parent / "orchestrator.log"
        self.client = ApiClient(self.url)

    def start(self, timeout: float = 60) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._spawn([RPA, "orchestrator", "--port", str(self.port), "--data-dir", str(self.data_dir)], self.env)

        def ready() -> bool:
            if not self.running:
                raise RuntimeError(f"the orchestrator exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            try:
                import httpx

                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except Exception:
                return False

        wait_for(ready, timeout, "the orchestrator to be ready", interval=0.1)

    def create_owner(self, email: str, password: str, org: str = "Local") -> None:
        """`rpa admin create`, then log the client in as that owner."""
        # The password goes on standard input: an argument would show in `ps`.
        made = subprocess.run([RPA, "admin", "create", "--email", email, "--org", org,
                               "--data-dir", str(self.data_dir)], capture_output=True, text=True, env=self.env,
                              input=password + "\n", timeout=120)
        if made.returncode != 0:
            raise RuntimeError(f"rpa admin create failed: {made.stderr.strip()}")
        self.client.login(email, password)

    def publish(self, document: dict[str, Any], name: str | None = None) -> str:
        """Create a workflow with `document` as its draft and publish it; returns its id."""
        workflow = self.client.request("POST", "/workflows", json={"name": name or document["name"],
                                                                  "document": document})
        self.client.request("POST", f"/workflows/{workflow['id']}/publish", json={})
        return str(workflow["id"])

    def start_execution(self, workflow_id: str, **body: Any) -> str:
        return str(self.client.request("POST", "/executions", json={"workflow_id": workflow_id, **body})["id"])

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        """The execution's stored journal, every page of it."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.client.request("GET", f"/executions/{execution_id}/events",
                                       params={"after_seq": after, "limit": 1000})
            items += page["items"]
            if not page.get("next_after_seq"):
                return items
            after = page["next_after_seq"]

    def enrolment_token(self, labels: list[str] | None = None) -> str:
        made = self.client.request("POST", "/agents/enrolment-tokens", json={"labels": labels or []})
        return str(made["token"])


class LocalAgent(_Child):
    """`rpa agent` with its own home and key file, enrolled with `orchestrator` at creation."""

    def __init__(self, orchestrator: LocalOrchestrator, home: Path, name: str, *, labels: list[str] | None = None,
                 max_jobs: int = 1, url: str | None = None, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.home = home
        self.key_file = home / "agent.key"
        self.max_jobs = max_jobs
        self.url = url
        self.env = clean_env({"RPA_AGENT_HOME": str(home), **(env or {})})
        self.log = home.parent / f"agent-{name}.log"
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        identity = home / "agent.json"
        if self.key_file.exists() and identity.exists():  # enrolled by an earlier start
            self.agent_id = str(json.loads(identity.read_text(encoding="utf-8"))["agent_id"])
            return
        token = orchestrator.enrolment_token(labels)
        enrolled = subprocess.run([RPA, "agent", "enroll", orchestrator.url, token, "--name", name,
                                   "--key-file", str(self.key_file)],
                                  capture_output=True, text=True, env=self.env, timeout=60)
        if enrolled.returncode != 0:
            raise RuntimeError(f"rpa agent enroll failed: {enrolled.stderr.strip()}")
        self.agent_id = enrolled.stdout.split("agent id ")[1].split(")")[0]

    def start(self) -> None:
        args = [RPA, "agent", "--key-file", str(self.key_file), "--max-jobs", str(self.max_jobs)]
        if self.url:
            args += ["--url", self.url]
        self._spawn(args, self.env)

    def wait_online(self, client: ApiClient, timeout: float = 30) -> None:
        def online() -> bool:
            if not self.running:
                raise RuntimeError(f"the agent exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            try:
                return client.request("GET", f"/agents/{self.agent_id}")["status"] in ("online", "busy")
            except ApiError:
                return False

        wait_for(online, timeout, f"agent {self.name} to be online", interval=0.1)


def new_password() -> str:
    """A password any default policy accepts (classes, length), random."""
    return f"Rpa-{secrets.token_urlsafe(12)}-9a"

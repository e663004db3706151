"""Process supervision: an orchestrator and agents on this machine, each a child process of the
`rpa` command. This is what `rpa up` and `rpa demo` run, and what the end-to-end tests and the
benchmarks drive.

Only public interfaces are used (the `rpa` console script and the HTTP API), so this module
needs neither the server nor the agent package. Each child runs in its own session, so a signal
meant for it (SIGTERM on stop, SIGKILL in the demo) never reaches the `rpa` that started it.

Its own errors (a request the orchestrator refuses stays a `shared.client.ApiError`):

    SupervisionError        something on this machine did not start or answer as it should
     ├── WaitTimeout        `wait_for` ran out of time
     │    └── StartupTimeout    a child was not ready (orchestrator) or online (agent) in time
     ├── ChildExited        a child ended while it was being waited for
     └── CommandFailed      a one-shot `rpa` command (`admin create`, `agent enroll`) failed
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

from shared.client import ApiClient, ApiError

__all__ = [
    "RPA",
    "ChildExited",
    "CommandFailed",
    "LocalAgent",
    "LocalOrchestrator",
    "LocalRun",
    "StartupTimeout",
    "SupervisionError",
    "WaitTimeout",
    "clean_env",
    "free_port",
    "new_password",
    "rpa_command",
    "wait_for",
]

RPA = str(Path(sys.executable).parent / "rpa")
"""The `rpa` console script next to this interpreter: what the orchestrator and agent children run."""


class SupervisionError(Exception):
    """A local orchestrator or agent did not start, answer or end as it should."""


class WaitTimeout(SupervisionError):
    """`wait_for` ran out of time; the message names what was awaited and for how long."""

    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"timed out after {timeout:g} s waiting for {what}")
        self.what = what
        self.timeout = timeout


class StartupTimeout(WaitTimeout):
    """A child process was not ready (or its agent not online) within its start-up time."""

    def __init__(self, what: str, timeout: float, log: Path) -> None:
        super().__init__(what, timeout)
        self.log = log

    def __str__(self) -> str:
        return f"{self.what} did not come up within {self.timeout:g} s; see {self.log}"


class ChildExited(SupervisionError):
    """A child process ended while it was being waited for; the message quotes its log's tail."""


class CommandFailed(SupervisionError):
    """A one-shot `rpa` command run on a child's behalf exited with an error."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition", interval: float = 0.05
) -> Any:
    """Poll `condition` until it returns something true, and return that.

    Raises:
        WaitTimeout: `condition` stayed false for `timeout` seconds (`what` names it in the message).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(what, timeout)
        time.sleep(interval)


def _wait_startup(condition: Callable[[], Any], timeout: float, what: str, log: Path) -> None:
    try:
        wait_for(condition, timeout, what, interval=0.1)
    except WaitTimeout:
        raise StartupTimeout(what, timeout, log) from None


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without `RPA_*` settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RPA_")}
    env.update(extra or {})
    return env


class _Child:
    """One child process, started in its own session, its output appended to `log`."""

    process: subprocess.Popen[bytes] | None = None
    log: Path

    def _spawn(self, args: list[str], env: dict[str, str] | None, cwd: Path | None = None) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
            )

    @property
    def running(self) -> bool:
        """Whether the child was started and has not ended."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """End the child at once (SIGKILL), as a crash or a pulled plug would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=20)

    def stop(self, timeout: float = 20) -> None:
        """Ask the child to stop (SIGTERM); kill it if it has not ended within `timeout` seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class LocalOrchestrator(_Child):
    """`rpa orchestrator` on loopback with its own data dir; restartable on the same port."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, env: dict[str, str] | None = None, log: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(env)
        self.log = log or data_dir.parent / "orchestrator.log"
        self.client = ApiClient(self.url)

    def start(self, timeout: float = 60) -> None:
        """Start `rpa orchestrator` and wait until it answers `/readyz`.

        Raises:
            ChildExited: the orchestrator ended before it was ready.
            StartupTimeout: it was not ready within `timeout` seconds (it is left running; `stop()` it).
        """
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._spawn([RPA, "orchestrator", "--port", str(self.port), "--data-dir", str(self.data_dir)], self.env)

        def ready() -> bool:
            if not self.running:
                raise ChildExited(f"the orchestrator exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            return self.client.ready()

        _wait_startup(ready, timeout, "the orchestrator", self.log)

    def create_owner(self, email: str, password: str, org: str = "Local") -> None:
        """`rpa admin create`, then log the client in as that owner."""
        # The password goes on standard input: an argument would show in `ps`.
        made = subprocess.run(
            [RPA, "admin", "create", "--email", email, "--org", org, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=self.env,
            input=password + "\n",
            timeout=120,
        )
        if made.returncode != 0:
            raise CommandFailed(f"rpa admin create failed: {made.stderr.strip()}")
        self.client.login(email, password)

    def publish(self, document: dict[str, Any], name: str | None = None) -> str:
        """Create a workflow with `document` as its draft and publish it; returns its id."""
        workflow = self.client.request(
            "POST", "/workflows", json={"name": name or document["name"], "document": document}
        )
        self.client.request("POST", f"/workflows/{workflow['id']}/publish", json={})
        return str(workflow["id"])

    def start_execution(self, workflow_id: str, **body: Any) -> str:
        """Start the workflow's published version (`body` adds `inputs`, `priority`, …); returns its id."""
        return str(self.client.request("POST", "/executions", json={"workflow_id": workflow_id, **body})["id"])

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        """The execution's stored journal, every page of it."""
        items: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.client.request(
                "GET", f"/executions/{execution_id}/events", params={"after_seq": after, "limit": 1000}
            )
            items += page["items"]
            if not page.get("next_after_seq"):
                return items
            after = page["next_after_seq"]

    def enrolment_token(self, labels: list[str] | None = None) -> str:
        """A one-time token that enrols an agent with `labels`."""
        made = self.client.request("POST", "/agents/enrolment-tokens", json={"labels": labels or []})
        return str(made["token"])


class LocalAgent(_Child):
    """`rpa agent` with its own home and key file, enrolled with `orchestrator` at creation."""

    def __init__(
        self,
        orchestrator: LocalOrchestrator,
        home: Path,
        name: str,
        *,
        labels: list[str] | None = None,
        max_jobs: int = 1,
        url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
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
        enrolled = subprocess.run(
            [RPA, "agent", "enroll", orchestrator.url, token, "--name", name, "--key-file", str(self.key_file)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        if enrolled.returncode != 0:
            raise CommandFailed(f"rpa agent enroll failed: {enrolled.stderr.strip()}")
        self.agent_id = enrolled.stdout.split("agent id ")[1].split(")")[0]

    def start(self) -> None:
        """Start `rpa agent` (it connects in the background: see `wait_online`)."""
        args = [RPA, "agent", "--key-file", str(self.key_file), "--max-jobs", str(self.max_jobs)]
        if self.url:
            args += ["--url", self.url]
        self._spawn(args, self.env)

    def wait_online(self, client: ApiClient, timeout: float = 30) -> None:
        """Wait until the orchestrator reports this agent online (or busy).

        Raises:
            ChildExited: the agent ended before it came online.
            StartupTimeout: it was not online within `timeout` seconds.
        """

        def online() -> bool:
            if not self.running:
                raise ChildExited(f"the agent exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            try:
                return client.request("GET", f"/agents/{self.agent_id}")["status"] in ("online", "busy")
            except ApiError:
                return False

        _wait_startup(online, timeout, f"agent {self.name}", self.log)


def rpa_command() -> list[str]:
    """How this `rpa` runs itself as a child: the bundled program, or `python -m cli`."""
    # A bundled program is its own interpreter: no "-m".
    return [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "cli"]


class LocalRun(_Child):
    """`rpa run FLOW --journal JOURNAL --json` in a child process, working in `workdir`."""

    def __init__(self, flow: Path, journal: Path, workdir: Path) -> None:
        self.flow = flow
        self.journal = journal
        self.workdir = workdir
        self.log = workdir / "run.log"

    def start(self) -> None:
        """Start the run; it journals to `journal` as it goes."""
        self._spawn(
            [*rpa_command(), "run", str(self.flow), "--journal", str(self.journal), "--json"], None, cwd=self.workdir
        )


def new_password() -> str:
    """A password any default policy accepts (classes, length), random."""
    return f"Rpa-{secrets.token_urlsafe(12)}-9a"

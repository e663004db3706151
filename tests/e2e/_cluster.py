"""Real processes for end-to-end tests: the product's own `LocalOrchestrator` and `LocalAgent`
(what `rpa up` runs), with fast lease settings so fault scenarios stay short: heartbeats every
0.5 s, an agent is unresponsive after 3 missed beats, a gone agent's executions are requeued
after 1 s. Agents keep their real reconnect settings: the delay is capped at half the lease the
orchestrator announces.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from cli.supervise import LocalAgent, LocalOrchestrator, free_port, wait_for

__all__ = [
    "API",
    "Agent",
    "Orchestrator",
    "completed_twice",
    "free_port",
    "gapless",
    "invocations",
    "processes_mentioning",
    "wait_for",
]

API = "/api/v1"
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Cluster-Test-42-Robots!"
EMAIL = "owner@example.com"


class Orchestrator(LocalOrchestrator):
    def __init__(
        self,
        root: Path,
        *,
        database_url: str | None = None,
        grace_s: float = 1.0,
        heartbeat_s: float = 0.5,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = {
            "HOME": str(root / "home"),
            "RPA_ENVIRONMENT": "test",
            "RPA_AGENT_GRACE_S": str(grace_s),
            "RPA_HEARTBEAT_INTERVAL_S": str(heartbeat_s),
            "RPA_CANCEL_GRACE_S": "3",
            "RPA_RATE_LIMIT_PER_MINUTE": "100000",
            "RPA_LOGIN_RATE_LIMIT_PER_MINUTE": "10000",
            # the orchestrator validates flows against the steps its agents have (probe.count)
            "RPA_STEP_MODULES": "tests.e2e.probe_steps:STEPS",
            "PYTHONPATH": str(ROOT),
        }
        if database_url:
            env["RPA_DATABASE_URL"] = database_url
        env.update(extra_env or {})
        super().__init__(root / "orchestrator", env=env, log=root / "orchestrator.log")
        self.root = root

    def setup_owner(self) -> None:
        self.create_owner(EMAIL, PASSWORD, org="Acme")

    def login(self) -> None:
        self.client.login(EMAIL, PASSWORD)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, **kwargs)

    def execution(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api("GET", f"/executions/{execution_id}")
        return result

    def stream(self, execution_id: str, *, follow: bool = False) -> list[tuple[str, Any]]:
        return list(self.client.stream(execution_id, follow=follow))

    def wait_state(self, execution_id: str, states: Collection[str], timeout: float = 60) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            execution = self.execution(execution_id)
            return execution if execution["state"] in states else None

        result: dict[str, Any] = wait_for(
            reached, timeout, f"execution {execution_id} to reach {sorted(states)}", interval=0.1
        )
        return result


class Agent(LocalAgent):
    def __init__(
        self,
        root: Path,
        orchestrator: Orchestrator,
        name: str,
        *,
        labels: list[str] | None = None,
        max_jobs: int = 1,
        url: str | None = None,
    ) -> None:
        super().__init__(
            orchestrator,
            root / f"agent-{name}",
            name,
            labels=labels,
            max_jobs=max_jobs,
            url=url,
            env={
                "HOME": str(root / "home"),
                # every agent of a test can run probe.count, which records invocations in one file
                "RPA_STEP_MODULES": "tests.e2e.probe_steps:STEPS",
                "PYTHONPATH": str(ROOT),
                "RPA_PROBE_FILE": str(root / "probe.log"),
            },
        )
        self.log = root / f"agent-{name}.log"
        self.orchestrator = orchestrator

    def wait_online(self, client: Any = None, timeout: float = 30) -> None:
        super().wait_online(client or self.orchestrator.client, timeout)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (e.g. a data dir left running)."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if text in line and "pytest" not in line:
            found.append(line)
    return found


def invocations(root: Path, *, by_agent: bool = False) -> dict[str, int]:
    """How often each node instance's step really ran (probe.count), by idempotency key, or by
    (idempotency key, agent) with `by_agent`."""
    probe = root / "probe.log"
    counts: dict[str, int] = {}
    for line in probe.read_text(encoding="utf-8").splitlines() if probe.exists() else []:
        key, _, agent = line.partition(" ")
        name = f"{key} {agent}" if by_agent else key
        counts[name] = counts.get(name, 0) + 1
    return counts


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

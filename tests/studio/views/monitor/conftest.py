"""A real orchestrator (embedded SQLite) and a real agent for the monitor's tests, started once
for the module that asks for them, with the workflows the tests run published."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.supervise import LocalAgent
from tests.e2e._cluster import ROOT, Orchestrator

STEPS = "tests.studio.views.monitor.monitor_steps:STEPS"
SHOTS = Path(os.environ.get("STUDIO_SCREENSHOTS", Path(__file__).parents[2] / "screenshots"))


def flow(name: str, *nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """A straight flow of `nodes` (id, step type, params), laid out top to bottom."""
    return {
        "schema": "rpa.flow/1",
        "name": name,
        "outputs": {"done": "{{ steps." + nodes[-1][0] + ".output }}"},
        "nodes": [
            {"id": ident, "type": kind, "params": params, "ui": {"x": 60, "y": 40 + 110 * i}}
            for i, (ident, kind, params) in enumerate(nodes)
        ],
        "edges": [{"from": a[0], "to": b[0]} for a, b in itertools.pairwise(nodes)],
    }


FLOWS = {
    "three": flow(
        "Monitor three steps",
        ("greet", "core.log", {"message": "hello from the robot"}),
        ("shot", "monitor.shot", {"name": "screen.png"}),
        ("bye", "core.log", {"message": "bye"}),
    ),
    "long": flow("Monitor long wait", ("hold", "core.wait", {"seconds": 60}), ("after", "core.log", {"message": "x"})),
    "broken": flow("Monitor broken", ("first", "core.log", {"message": "x"}), ("boom", "core.fail", {"message": "no"})),
}
for _node in FLOWS["broken"]["nodes"]:
    del _node["ui"]  # placed by the view's auto-layout


@dataclass
class Cluster:
    orchestrator: Orchestrator
    agent: LocalAgent
    workflows: dict[str, str]

    def start(self, flow_key: str) -> str:
        return self.orchestrator.start_execution(self.workflows[flow_key])

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.orchestrator.api(method, path, **kwargs)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("monitor-cluster")
    orchestrator = Orchestrator(root, extra_env={"RPA_STEP_MODULES": STEPS})
    agent: LocalAgent | None = None
    try:
        orchestrator.start()
        orchestrator.setup_owner()
        workflows = {key: orchestrator.publish(document) for key, document in FLOWS.items()}
        env = {"HOME": str(root / "home"), "RPA_STEP_MODULES": STEPS, "PYTHONPATH": str(ROOT)}
        agent = LocalAgent(orchestrator, root / "agent-robot", "robot", env=env)
        agent.start()
        agent.wait_online(orchestrator.client)
        yield Cluster(orchestrator, agent, workflows)
    finally:
        if agent is not None:
            agent.stop()
        orchestrator.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS

"""Shared fixtures for the engine and step tests.

- `probe`: what the test steps saw (calls per idempotency key, concurrency peaks, cancellations).
- `registry`: the built-in steps plus the `test.*` steps below, wired to `probe`.
- `make_flow(nodes, edges=(), **document)`: a validated `Flow`; edges may be written as
  `("a", "b")`, `("a", "port", "b")` or dicts.
- `run(flow, inputs=None, *, engine=None, journal=None, within=HANG_TIMEOUT, **engine_kw)`:
  runs the flow and returns an `Outcome(result, events)`. A run that does not finish within
  `within` seconds raises `TimeoutError`, so a scheduler that hangs fails the test quickly instead
  of eating the per-test timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from pydantic import BaseModel, ConfigDict

from shared.engine import Engine, Event, ExecutionResult, Journal, MemoryJournal
from shared.errors import StepError
from shared.flow import Flow, load_flow
from shared.steps import StepRegistry, context, step
from shared.steps.builtin import BUILTIN_STEPS

HANG_TIMEOUT = 5.0
"""Seconds after which `run` gives up on an execution: far more than any test flow needs even on a
loaded machine (0.5 s failed runs under a load average of 12), far less than the per-test timeout."""

TERMINAL = {"node.succeeded": "succeeded", "node.skipped": "skipped"}


# -- what the test steps report -------------------------------------------------------------


class Probe:
    """A thread-safe record of what the `test.*` steps did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        """Invocations per idempotency key (`execution_id/path`)."""
        self.started: list[str] = []
        """Labels (default: node path) in the order the steps started."""
        self.finished: list[str] = []
        self.cancelled: list[str] = []
        self.attempts: list[tuple[str, int]] = []
        self.received: dict[str, Any] = {}
        self.active: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.exited = threading.Event()
        """Set when a sync `test.poll` step returns (its thread is done)."""
        self.saw_cancel: list[str] = []

    def enter(self, label: str, group: str, key: str, attempt: int) -> int:
        with self._lock:
            self.calls[key] += 1
            self.started.append(label)
            self.attempts.append((label, attempt))
            self.active[group] += 1
            self.peak[group] = max(self.peak[group], self.active[group])
            return self.calls[key]

    def leave(self, label: str, group: str, *, cancelled: bool = False) -> None:
        with self._lock:
            self.active[group] -= 1
            (self.cancelled if cancelled else self.finished).append(label)

    def calls_at(self, path: str) -> int:
        """Invocations of the node instance `path`, whatever the execution."""
        return sum(n for key, n in self.calls.items() if key.split("/", 1)[1] == path)


class WorkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = None
    sleep: float = 0.0
    first_sleep: float = 0.0
    """Extra sleep of the first call of a node instance (a slow first attempt)."""
    group: str = "all"
    label: str | None = None
    fail_times: int = 0
    kind: str = "application"
    retryable: bool = True


class PollParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = 1.0


class BoomParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = "boom"


class BigParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = 100
    text: str = "x"


class SecretParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str


def build_test_steps(probe: Probe) -> list[Callable[..., Any]]:  # noqa: C901
    """Step functions that report to `probe`."""

    def begin(params: WorkParams) -> tuple[str, int]:
        ctx = context()
        label = params.label or ctx.path
        probe.received[label] = params.value
        return label, probe.enter(label, params.group, ctx.idempotency_key, ctx.attempt)

    def outcome(params: WorkParams, calls: int) -> Any:
        if calls <= params.fail_times:
            raise StepError(f"failure {calls} of {params.fail_times}", kind=params.kind, retryable=params.retryable)
        return params.value

    async def work(params: WorkParams) -> Any:
        """Async: sleep, maybe fail the first `fail_times` calls, return `value`."""
        label, calls = begin(params)
        try:
            await asyncio.sleep(params.sleep + (params.first_sleep if calls == 1 else 0))
        except asyncio.CancelledError:
            probe.leave(label, params.group, cancelled=True)
            raise
        probe.leave(label, params.group)
        return outcome(params, calls)

    def sync_work(params: WorkParams) -> Any:
        """The same, in a worker thread."""
        label, calls = begin(params)
        time.sleep(params.sleep + (params.first_sleep if calls == 1 else 0))
        probe.leave(label, params.group)
        return outcome(params, calls)

    def poll(params: PollParams) -> str:
        """Sync: poll `context().is_cancelled()` for up to `seconds`."""
        ctx = context()
        probe.enter(ctx.path, "poll", ctx.idempotency_key, ctx.attempt)
        deadline = time.monotonic() + params.seconds
        try:
            while time.monotonic() < deadline:
                if ctx.is_cancelled():
                    probe.saw_cancel.append(ctx.path)
                    return "cancelled"
                time.sleep(0.002)
            return "finished"
        finally:
            probe.leave(ctx.path, "poll")
            probe.exited.set()

    def boom(params: BoomParams) -> None:
        """Raise an exception that is not a StepError."""
        probe.enter(context().path, "boom", context().idempotency_key, context().attempt)
        raise ValueError(params.message)

    async def whoami(params: WorkParams) -> dict[str, Any]:
        """What the step's context says."""
        ctx = context()
        probe.enter(ctx.path, "whoami", ctx.idempotency_key, ctx.attempt)
        return {
            "key": ctx.idempotency_key,
            "path": ctx.path,
            "attempt": ctx.attempt,
            "execution_id": ctx.execution_id,
        }

    async def big(params: BigParams) -> list[str]:
        """A large output: `count` copies of `text` numbered."""
        ctx = context()
        probe.enter(ctx.path, "big", ctx.idempotency_key, ctx.attempt)
        return [f"{params.text}-{i:05d}" for i in range(params.count)]

    async def use_secret(params: SecretParams) -> dict[str, str]:
        """Receive a password, log it three ways, echo it."""
        ctx = context()
        probe.enter(ctx.path, "secret", ctx.idempotency_key, ctx.attempt)
        probe.received[ctx.path] = params.password
        ctx.log(f"logging in with {params.password}")
        ctx.logger.warning("password=%s", params.password)
        return {"echo": params.password, "nested": [{"pw": params.password}]}

    return [
        step("test.work", params=WorkParams)(work),
        step("test.sync_work", params=WorkParams)(sync_work),
        step("test.locked", params=WorkParams, lock="test-desktop")(work_copy(work)),
        step("test.sync_locked", params=WorkParams, lock="test-desktop")(work_copy(sync_work)),
        step("test.poll", params=PollParams)(poll),
        step("test.boom", params=BoomParams)(boom),
        step("test.whoami", params=WorkParams)(whoami),
        step("test.big", params=BigParams)(big),
        step("test.use_secret", params=SecretParams)(use_secret),
    ]


def work_copy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A distinct function object with the same behaviour (a step definition is attached to
    the function, so two step names need two functions)."""
    if asyncio.iscoroutinefunction(fn):

        async def async_copy(params: Any) -> Any:
            return await fn(params)

        return async_copy

    def sync_copy(params: Any) -> Any:
        return fn(params)

    return sync_copy


# -- flows and runs ---------------------------------------------------------------------------


def edge(spec: Any) -> dict[str, str]:
    """`("a", "b")`, `("a", "port", "b")` or a dict → an edge dict."""
    if isinstance(spec, Mapping):
        return dict(spec)
    if len(spec) == 2:
        return {"from": spec[0], "to": spec[1]}
    return {"from": spec[0], "port": spec[1], "to": spec[2]}


def flow_document(nodes: list[dict[str, Any]], edges: Iterable[Any] = (), **document: Any) -> dict[str, Any]:
    """A flow document around `nodes` and `edges`."""
    return {
        "schema": "rpa.flow/1",
        "name": document.pop("name", "test-flow"),
        "nodes": nodes,
        "edges": [edge(e) for e in edges],
        **document,
    }


class Outcome(NamedTuple):
    """What `run` returns: the result and every journal event."""

    result: ExecutionResult
    events: list[Event]

    def of(self, kind: str, path: str | None = None) -> list[Event]:
        """Events of one type (and one path)."""
        return [e for e in self.events if e.type == kind and (path is None or e.path == path)]

    def status(self, path: str) -> str | None:
        """How the node instance `path` ended according to the journal (None: never ended)."""
        found = None
        for e in self.events:
            if e.path != path:
                continue
            if e.type in TERMINAL:
                found = TERMINAL[e.type]
            elif e.type == "node.failed" and not e.data.get("will_retry"):
                found = "failed"
        return found

    def output(self, path: str) -> Any:
        """The journaled output of `path`."""
        (succeeded,) = self.of("node.succeeded", path)
        return succeeded.data["output"]

    def node_paths(self, kind: str = "node.started") -> list[str]:
        """Paths of the events of one type, in journal order."""
        return [e.path for e in self.events if e.type == kind]


def check_journal(events: list[Event]) -> None:
    """Invariants of every finished journal: seq 1..N without gaps, one start, one end."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "execution.finished"
    assert [e.type for e in events].count("execution.finished") == 1
    assert [e.type for e in events].count("execution.started") <= 1


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def probe_steps(probe: Probe) -> list[Callable[..., Any]]:
    return build_test_steps(probe)


@pytest.fixture
def registry(probe_steps: list[Callable[..., Any]]) -> StepRegistry:
    return StepRegistry([*BUILTIN_STEPS, *probe_steps])


@pytest.fixture
def make_flow(registry: StepRegistry) -> Callable[..., Flow]:
    def make(nodes: list[dict[str, Any]], edges: Iterable[Any] = (), **document: Any) -> Flow:
        return load_flow(flow_document(nodes, edges, **document), registry=registry)

    return make


@pytest.fixture
def write_flow(registry: StepRegistry) -> Callable[..., Path]:
    """Write a flow document to a file (JSON, or YAML for a .yaml/.yml name)."""
    import json

    import yaml

    def write(path: Path, nodes: list[dict[str, Any]], edges: Iterable[Any] = (), **document: Any) -> Path:
        doc = flow_document(nodes, edges, **document)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".yaml", ".yml"):
            path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        else:
            path.write_text(json.dumps(doc), encoding="utf-8")
        return path

    return write


@pytest.fixture
def artifacts_dir(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def make_engine(registry: StepRegistry, artifacts_dir: Path) -> Callable[..., Engine]:
    def make(**options: Any) -> Engine:
        options.setdefault("artifacts_dir", artifacts_dir)
        return Engine(registry, **options)

    return make


RunFn = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def run(make_engine: Callable[..., Engine]) -> RunFn:
    async def run_flow(
        flow: Flow,
        inputs: Mapping[str, Any] | None = None,
        *,
        engine: Engine | None = None,
        journal: Journal | None = None,
        within: float = HANG_TIMEOUT,
        **engine_options: Any,
    ) -> Outcome:
        engine = engine or make_engine(**engine_options)
        journal = journal if journal is not None else MemoryJournal(f"exec-{time.monotonic_ns()}")
        result = await asyncio.wait_for(engine.run(flow, inputs, journal=journal), within)
        events = journal.read()
        check_journal(events)
        assert result.execution_id == journal.execution_id
        return Outcome(result, events)

    return run_flow

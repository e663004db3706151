"""How a step is defined, and what it sees while it runs.

A step is a plain function (sync or async) taking one argument, its validated params model.
`@step(...)` attaches a frozen `StepDefinition` to it; nothing is registered by importing a
module: registries are built from explicit lists (see `StepRegistry`).

While a step runs, `context()` returns its `StepContext` (execution, node path, attempt,
idempotency key, logger, artifacts folder, cancellation), read from a ContextVar the way
`temporalio.activity.info()` is, so helper functions deep in a step family need no extra
argument.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from shared.errors import StepCancelled

StepKind = Literal["action", "router", "container", "subflow"]
LogSink = Callable[[str, str, str], None]
"""(path, level, message) -> None; messages arrive already masked."""


class NoParams(BaseModel):
    """Params model of a step that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Route:
    """Returned by a router step: which output port fires, and the node's output."""

    port: str
    output: Any = None


@dataclass(frozen=True, slots=True)
class Output:
    """Returned by a step that also assigns flow variables (e.g. `data.set_variable`)."""

    value: Any
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepDefinition:
    """Everything the catalogue knows about one step type."""

    name: str
    fn: Callable[[Any], Any] | None
    params: type[BaseModel]
    summary: str
    docs: str
    output: str = ""
    capability: str | None = None
    kind: StepKind = "action"
    ports: tuple[str, ...] = ("out",)
    bodies: tuple[str, ...] = ()
    required_bodies: tuple[str, ...] = ()
    lock: str | None = None
    is_async: bool = False
    effects: bool = True
    """The step acts outside the execution (clicks, files, requests, e-mail): an agent that lost
    contact with the orchestrator does not start it (fencing). False for pure steps."""

    def ports_for(self, params: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The output ports of a node of this type, or None when they are known only at run time
        (a switch whose `cases` is an expression)."""
        if self.name == "control.switch":
            cases = params.get("cases")
            if isinstance(cases, list):
                return (*(str(c) for c in cases), "default", "error")
            return None
        return (*self.ports, "error")

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for `rpa steps --json` and the studio palette."""
        return {
            "name": self.name,
            "summary": self.summary,
            "docs": self.docs,
            "kind": self.kind,
            "capability": self.capability,
            "output": self.output,
            "ports": list(self.ports),
            "bodies": list(self.bodies),
            "params": self.params.model_json_schema(),
        }


def step(
    name: str,
    *,
    params: type[BaseModel] = NoParams,
    output: str = "",
    capability: str | None = None,
    kind: StepKind = "action",
    ports: tuple[str, ...] = ("out",),
    bodies: tuple[str, ...] = (),
    required_bodies: tuple[str, ...] = (),
    lock: str | None = None,
    effects: bool = True,
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Attach a `StepDefinition` to a function.

    Args:
        name: the dotted step type, e.g. `browser.click`.
        params: the pydantic model the node's rendered params are validated against.
        output: a sentence describing the output.
        capability: what the agent needs (`browser`, `desktop`, `ocr`...), or None.
        kind: `action` (the default), `router` (returns a `Route`), or an engine-run
            `container` / `subflow`.
        ports: output ports (besides `error`, which every node has for fallbacks).
        bodies: nested graphs a container accepts; `required_bodies` must be present.
        lock: name of a process-wide lock held while the step runs (`desktop` for steps that
            drive the mouse and keyboard).
        effects: whether the step acts outside the execution; False only for pure steps
            (computing, waiting), which a fenced agent may still run.
    """

    def attach(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        doc = inspect.getdoc(fn) or ""
        summary = doc.splitlines()[0] if doc else name
        definition = StepDefinition(
            name=name,
            fn=None if kind in ("container", "subflow") else fn,
            params=params,
            summary=summary,
            docs=doc,
            output=output,
            capability=capability,
            kind=kind,
            ports=ports,
            bodies=bodies,
            required_bodies=required_bodies,
            lock=lock,
            is_async=inspect.iscoroutinefunction(fn),
            effects=effects,
        )
        fn.__rpa_step__ = definition  # type: ignore[attr-defined]
        return fn

    return attach


def definition_of(obj: Any) -> StepDefinition:
    """The definition attached to a step function (or the definition itself)."""
    if isinstance(obj, StepDefinition):
        return obj
    found = getattr(obj, "__rpa_step__", None)
    if not isinstance(found, StepDefinition):
        raise TypeError(f"{obj!r} is not a step: decorate it with @step(...)")
    return found


class _MaskingAdapter(logging.LoggerAdapter):  # type: ignore[type-arg]
    def __init__(self, logger: logging.Logger, ctx: StepContext) -> None:
        super().__init__(logger, {})
        self._ctx = ctx

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            self._ctx.log(text, logging.getLevelName(level).lower())


@dataclass
class StepContext:
    """What a running step may know and use."""

    execution_id: str
    path: str
    step_type: str
    attempt: int
    artifacts_root: Path
    mask: Callable[[Any], Any] = lambda value: value
    log_sink: LogSink | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and resumes of this node instance: `execution_id/path`."""
        return f"{self.execution_id}/{self.path}"

    @property
    def artifacts_dir(self) -> Path:
        """A folder for this node instance's files, created on first use."""
        # Percent-encoding keeps distinct paths distinct (`a[1]/b` never meets a node `a_1__b`).
        folder = self.artifacts_root / self.execution_id / quote(self.path, safe="")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @property
    def logger(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        """A standard logger whose records land in the execution's log, masked."""
        return _MaskingAdapter(logging.getLogger(f"rpa.step.{self.step_type}"), self)

    def log(self, message: str, level: str = "info") -> None:
        """Write a line to the execution's log (secrets masked)."""
        if self.log_sink is not None:
            self.log_sink(self.path, level, str(self.mask(message)))

    def is_cancelled(self) -> bool:
        """True once the execution was asked to stop; long sync steps should poll it."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `StepCancelled` if the execution was asked to stop."""
        if self.cancel_event.is_set():
            raise StepCancelled("the execution was cancelled")


_current: contextvars.ContextVar[StepContext] = contextvars.ContextVar("rpa_step_context")


def context() -> StepContext:
    """The context of the step running now.

    Raises:
        RuntimeError: when called outside a running step.
    """
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("context() was called outside a running step") from None


def _set_context(ctx: StepContext) -> contextvars.Token[StepContext]:
    return _current.set(ctx)


def _reset_context(token: contextvars.Token[StepContext]) -> None:
    _current.reset(token)

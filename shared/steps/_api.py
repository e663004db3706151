"""How a step is defined, and what it sees while it runs.

A step is a plain function (sync or async) taking one argument, its validated params model.
`@step(...)` attaches a frozen `StepDefinition` to it; nothing is registered by importing a
module: registries are built from explicit lists (see `StepRegistry`).

While a step runs, `context()` returns its `StepContext` (execution, node path, attempt,
idempotency key, logger, artifacts, secrets, execution-wide resources, journal notes,
cancellation), read from a ContextVar the way `temporalio.activity.info()` is, so helper
functions deep in a step family need no extra argument.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import mimetypes
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from shared.errors import StepCancelled, StepError

StepKind = Literal["action", "router", "container", "subflow"]
LogSink = Callable[[str, str, str], None]
"""(path, level, message) -> None; messages arrive already masked."""
NoteSink = Callable[[str, str, dict[str, Any]], None]
"""(path, kind, data) -> None: journals a `node.note` event (masked by the sink)."""
SecretResolver = Callable[[str], str | None]
"""A secret's value by name (`NAME` or `NAME.field`), registered with the masker; None if unknown."""

log = logging.getLogger(__name__)

CREDENTIAL_NAME: dict[str, Any] = {"x-rpa-credential": True}
"""`Field(json_schema_extra=CREDENTIAL_NAME, ...)` marks a param that holds a credential's *name*:
the orchestrator then delivers that credential with the job and checks the flow may use it
(`shared.flow.find_credential_params`), and the studio offers the vault's names in its form.
Every param a step passes to `context().secret()` is marked so."""

ASSET_FILE: dict[str, Any] = {"x-rpa-asset": "file"}
"""`Field(json_schema_extra=ASSET_FILE, ...)` marks a param naming a file that sits next to the flow
(a relative path): the file is one of the flow's assets, published with its version and delivered
to the agent (`shared.flow.find_assets`); the step reads it from `context().flow_dir`."""

ASSET_TARGETS: dict[str, Any] = {"x-rpa-asset": "targets"}
"""Marks a desktop target param: the files its `image:` segments name are the flow's assets."""


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
    ports_param: str | None = None
    """A router whose ports are a list param of each node (`ai.decide`'s `options`)."""

    def ports_for(self, params: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The output ports of a node of this type, or None when they are known only at run time
        (a switch whose `cases` is an expression)."""
        if self.name == "control.switch":
            cases = params.get("cases")
            if isinstance(cases, list):
                return (*(str(c) for c in cases), "default", "error")
            return None
        if self.ports_param is not None:
            values = params.get(self.ports_param)
            return (*(str(v) for v in values), "error") if isinstance(values, list) else None
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
    ports_param: str | None = None,
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
        ports_param: for a router, the list param naming each node's ports (instead of `ports`).
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
            ports_param=ports_param,
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


Closer = Callable[[Any], Any]
"""Closes a resource; may return an awaitable, which is awaited."""


class ExecutionResources:
    """What a step family keeps open across the steps of one execution.

    A browser session, a database transaction, an IMAP connection: a step opens it once and
    stores it under a key (`browser:main`), later steps of the same execution find it there,
    and the engine closes every one (newest first) when the execution ends, fails, is cancelled
    or its host stops. A closer that fails is logged and does not stop the others. Safe to use
    from step threads and from the event loop.
    """

    def __init__(self) -> None:
        self._items: dict[str, tuple[Any, Closer | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        """The resource stored under `key`, or `default`."""
        with self._lock:
            item = self._items.get(key)
        return default if item is None else item[0]

    def put(self, key: str, value: Any, close: Closer | None = None) -> None:
        """Keep `value` under `key` until the execution ends; `close(value)` is then called.

        Raises:
            ValueError: when `key` is already taken (close or `pop` the old one first).
        """
        with self._lock:
            if key in self._items:
                raise ValueError(f"an execution resource named {key!r} is already open")
            self._items[key] = (value, close)

    def pop(self, key: str) -> Any:
        """Forget `key` without closing it (the step closed it itself); None when absent."""
        with self._lock:
            item = self._items.pop(key, None)
        return None if item is None else item[0]

    def keys(self) -> list[str]:
        """The keys open now, oldest first."""
        with self._lock:
            return list(self._items)

    async def aclose(self) -> None:
        """Close everything, newest first; failures are logged, never raised."""
        while True:
            with self._lock:
                if not self._items:
                    return
                key = next(reversed(self._items))
                value, close = self._items.pop(key)
            if close is None:
                continue
            try:
                result = close(value)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # one failed close must not leave the others open
                log.warning("closing execution resource %s failed: %s: %s", key, type(exc).__name__, exc)


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def _artifact_name(name: str) -> str:
    base = _UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    return base[:200] or "artifact"


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
    secrets: SecretResolver = lambda _name: None
    secret_sink: Callable[[str], None] | None = None
    """Adds a value to the execution's masker (`add_secret`); None where nothing masks."""
    resources: ExecutionResources = field(default_factory=ExecutionResources)
    note_sink: NoteSink | None = None
    flow_dir: Path | None = None
    """The folder the flow's assets sit in (its own folder under `rpa run`, the version's assets
    materialised by the agent); relative file params resolve here first. None: unknown."""
    pause_gate: threading.Event | None = None
    """Set while the execution may go on, cleared while it is paused (an attended run's pause);
    `checkpoint()` waits on it. None: the execution cannot be paused inside a step."""

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

    def flow_file(self, name: str) -> Path:
        """The file a param names: an absolute path as is; a relative one in the flow's folder
        (`flow_dir`, where the flow's assets are) when it is there, else as given (relative to the
        working directory, as before assets existed)."""
        path = Path(name).expanduser()
        if not path.is_absolute() and self.flow_dir is not None and (self.flow_dir / path).exists():
            return self.flow_dir / path
        return path

    @property
    def logger(self) -> logging.LoggerAdapter:  # type: ignore[type-arg]
        """A standard logger whose records land in the execution's log, masked."""
        return _MaskingAdapter(logging.getLogger(f"rpa.step.{self.step_type}"), self)

    def log(self, message: str, level: str = "info") -> None:
        """Write a line to the execution's log (secrets masked)."""
        if self.log_sink is not None:
            self.log_sink(self.path, level, str(self.mask(message)))

    def secret(self, name: str) -> str:
        """The value of a credential or secret (`NAME`, or `NAME.field` for one field).

        The value is registered with the masker first, so it never shows in logs, events or
        errors. Steps take the credential's *name* as a param, never its value.

        Raises:
            StepError: kind `credential`, not retryable, when there is no such secret.
        """
        value = self.secrets(name)
        if value is None:
            raise StepError(
                f"no credential or secret named '{name}' is available to this execution",
                kind="credential",
                retryable=False,
            )
        return value

    def add_secret(self, value: str) -> None:
        """Mask `value` from now on in every log, event and error of this execution: a secret the
        step obtained itself (the OS keyring), or hands on as its output (`vault.get`).

        Raises:
            StepError: kind `credential`, when this run has no masker (the value must not be used).
        """
        if self.secret_sink is None:
            raise StepError(
                "this run cannot mask secrets; refusing to hand one out", kind="credential", retryable=False
            )
        self.secret_sink(value)

    def note(self, kind: str, data: Mapping[str, Any]) -> None:
        """Journal a `node.note` event for this node (e.g. `healed`: a selector that was repaired).

        Notes are facts for people and tools (the studio offers healed selectors for review);
        they change nothing in the execution's state. `data` is masked.
        """
        if self.note_sink is not None:
            self.note_sink(self.path, kind, dict(data))

    def save_artifact(self, name: str, data: bytes | str | Path, *, content_type: str | None = None) -> dict[str, Any]:
        """Keep a file as an artifact of this node; the agent uploads it when the execution ends.

        Args:
            name: the file name shown to users (sanitised; a secret in it is masked).
            data: the content, or a file to copy (streamed, never read whole).
            content_type: the media type; guessed from the name when None.

        Returns:
            `{"artifact", "name", "size", "content_type"}`: `artifact` is the path relative to
            the execution's artifacts folder, what the orchestrator's artifact API names.
        """
        clean = _artifact_name(str(self.mask(name)))
        folder = self.artifacts_dir
        target = folder / clean
        stem, dot, suffix = clean.rpartition(".")
        counter = 1
        while target.exists():
            counter += 1
            target = folder / (f"{stem}-{counter}.{suffix}" if dot else f"{clean}-{counter}")
        if isinstance(data, Path):
            shutil.copyfile(data, target)
        else:
            target.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        guessed = content_type or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        relative = target.relative_to(self.artifacts_root / self.execution_id).as_posix()
        return {"artifact": relative, "name": target.name, "size": target.stat().st_size, "content_type": guessed}

    def is_cancelled(self) -> bool:
        """True once the execution was asked to stop; long sync steps should poll it."""
        return self.cancel_event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise `StepCancelled` if the execution was asked to stop."""
        if self.cancel_event.is_set():
            raise StepCancelled("the execution was cancelled")

    def checkpoint(self) -> None:
        """Between the actions of a long step (each key typed, each click): wait while the run is
        paused, and raise `StepCancelled` if it was asked to stop (meanwhile)."""
        gate = self.pause_gate
        while gate is not None and not gate.is_set() and not self.cancel_event.wait(0.05):
            pass
        self.raise_if_cancelled()


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

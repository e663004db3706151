"""The contract between an event source and the trigger framework.

The framework runs one `TriggerSource.run` per enabled trigger of that kind, in one orchestrator
process at a time (it holds the trigger's lease), and gives it a `SourceContext`:

- `emit(event)` hands over one event. It returns once the framework has durably stored the event
  under `(trigger, event.key)` together with the execution it starts: `True` for a new event,
  `False` for a key already seen (a restart re-reading what was already taken). Only after
  `emit` returns may the source acknowledge the event at its origin (mark a message read, move
  it, advance a cursor): a crash between the two repeats the event, and the key makes that
  repeat a no-op. Exactly once = an idempotent `emit` + a key that is stable across restarts.
- `cursor` keeps a small JSON state across restarts and processes (the last UID seen, a
  watermark); `save` is durable when it returns.
- `secret(name)` reads a vault credential by name (`NAME` or `NAME.field`), never logged.
- `status(text)` shows what the source is doing in the trigger's state ("idle (IDLE)",
  "polling every 30 s", "reconnecting in 8 s").
- `stop` is set when the trigger is paused, deleted, or the process stops; `run` returns soon
  after (within a second or two).

`run` raises `SourceError` for a failure the framework should record in the trigger's state
(`last_error`) and retry with backoff; a source handles its own transient reconnects when it can
say so through `status`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel


class SourceError(Exception):
    """A source cannot go on; the framework records `message` and retries later.

    Args:
        message: What failed and where (server, folder, bucket), never a secret.
        retryable: False for a configuration the source will never accept (a bad folder name).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class SourceAttachment:
    """A file that comes with an event (an e-mail attachment); stored as an artifact of the execution."""

    name: str
    content: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class SourceEvent:
    """One thing that happened at the source.

    Attributes:
        key: Stable, unique per trigger across restarts (e.g. `"uidvalidity:uid"`, `"path|size|mtime"`,
            an ETag, a change id); at most 500 characters.
        payload: JSON-safe data the trigger's input mapping reads as `event`.
        attachments: Files stored as the execution's artifacts (their names listed in the payload by the source).
    """

    key: str
    payload: dict[str, Any]
    attachments: tuple[SourceAttachment, ...] = field(default=())


Emit = Callable[[SourceEvent], Awaitable[bool]]


class Cursor(Protocol):
    """A trigger's durable source state (JSON)."""

    async def load(self) -> dict[str, Any]: ...

    async def save(self, state: dict[str, Any]) -> None: ...


@dataclass
class SourceContext:
    """What the framework gives a running source (see the module docstring)."""

    trigger_id: str
    emit: Emit
    cursor: Cursor
    secret: Callable[[str], Awaitable[str]]
    status: Callable[[str], None]
    stop: asyncio.Event


class TriggerSource(Protocol):
    """A kind of event source (`email`, `files`, `database`)."""

    kind: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]

    async def run(self, config: BaseModel, ctx: SourceContext) -> None:
        """Watch the source and emit each new event until `ctx.stop` is set."""
        ...

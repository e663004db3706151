"""The recorder's wire protocol: JSON lines on stdout (events) and stdin (commands).

A parent process (the studio) starts `python -m agent.recorder browser URL` and reads one JSON
object per line from its stdout; nothing else is ever written there (diagnostics go to
stderr). It writes commands the same way to its stdin. Version 1 is described in
`agent/recorder/README.md`; a change that a version-1 reader would misread gets a new number.

Every line written passes through `Emitter`, which masks the secret values seen so far (the
passwords typed while recording): a password can only reach stdout by a bug, and then it is
still `***`.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from shared.expressions import SecretMasker

__all__ = [
    "PROTOCOL_VERSION",
    "Command",
    "CommandError",
    "Emitter",
    "HighlightCommand",
    "PickCommand",
    "SelectorCheckCommand",
    "StopCommand",
    "parse_command",
]

PROTOCOL_VERSION = 1
MAX_COMMAND_BYTES = 64 * 1024
"""A command is a few hundred bytes; a longer line is refused before it is parsed."""


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=200, description="Echoed in the answer, to pair it with the command.")


class StopCommand(_Command):
    """Stop recording, write the output and exit."""

    cmd: Literal["stop"]


class PickCommand(_Command):
    """Let the user pick an element with the mouse; answered by a `picked` event."""

    cmd: Literal["pick"]


class SelectorCheckCommand(_Command):
    """Count and highlight what a selector (or a target descriptor) matches; answered by `tested`."""

    cmd: Literal["test_selector"]
    selector: str | None = Field(None, description="A Playwright selector.")
    target: dict[str, Any] | None = Field(None, description="A target descriptor: {selector, fallbacks, ...}.")


class HighlightCommand(_Command):
    """Highlight what a selector matches (empty or absent: clear the highlight); answered by `highlighted`."""

    cmd: Literal["highlight"]
    selector: str | None = Field(None, description="A Playwright selector; none clears the highlight.")


Command = Annotated[StopCommand | PickCommand | SelectorCheckCommand | HighlightCommand, Field(discriminator="cmd")]
_COMMAND: TypeAdapter[StopCommand | PickCommand | SelectorCheckCommand | HighlightCommand] = TypeAdapter(Command)


class CommandError(ValueError):
    """A line on stdin that is not a valid command; the message says what is wrong and where."""

    def __init__(self, message: str, command_id: str | None = None) -> None:
        super().__init__(message)
        self.command_id = command_id


def parse_command(line: str) -> StopCommand | PickCommand | SelectorCheckCommand | HighlightCommand:
    """Decode one command line.

    Raises:
        CommandError: the line is too long, not JSON, not an object, or not a known command;
            the message names the field by its path, never quoting a value.
    """
    if len(line.encode()) > MAX_COMMAND_BYTES:
        raise CommandError(f"a command line is at most {MAX_COMMAND_BYTES} bytes")
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise CommandError(f"a command is one JSON object per line: {err.msg} at column {err.colno}") from None
    if not isinstance(raw, dict):
        raise CommandError('a command is a JSON object such as {"cmd": "stop"}')
    command_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    try:
        return _COMMAND.validate_python(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'cmd'}: {e['msg']}" for e in err.errors(include_input=False)
        )
        raise CommandError(
            f"not a valid command ({problems}); known: stop, pick, test_selector, highlight", command_id
        ) from None


class Emitter:
    """Writes events as JSON lines, masked and flushed, from any thread."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self.masker = SecretMasker()

    def emit(self, event: str, **fields: Any) -> None:
        """Write one event: `{"event": event, ...fields}` on one line."""
        record = self.masker.mask({"event": event, **fields})
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def error(self, message: str, *, kind: str, fatal: bool = False, command_id: str | None = None) -> None:
        """Write an `error` event; `fatal` says the recorder is about to stop."""
        fields: dict[str, Any] = {"kind": kind, "message": message, "fatal": fatal}
        if command_id is not None:
            fields["id"] = command_id
        self.emit("error", **fields)

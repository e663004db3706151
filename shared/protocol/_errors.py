"""Errors of the agent ⇄ orchestrator protocol, drawn as a tree.

    ProtocolError                  base; `code`, `message`, `close_code`
    ├── MalformedMessage           malformed            not JSON, not an object, a field wrong
    ├── FrameTooLarge              too_large            the frame is above the size limit
    ├── UnknownMessageType         unknown_type         `type` names no message of this direction
    ├── UnsupportedVersion         unsupported_version  the peer speaks a protocol version we do not
    ├── UnexpectedMessage          unexpected           not allowed in the connection's state
    └── NotYours                   not_yours            about an execution not assigned here

Each error is about what the *peer* sent. Its `message` is one plain sentence meant to be sent
back in an `error` message (never a traceback, never a field's value), and `close_code` is the
WebSocket close code to end the connection with.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from pydantic import ValidationError

CLOSE_GOING_AWAY = 1001
"""The server or the agent is shutting down."""
CLOSE_PROTOCOL_ERROR = 4400
"""A message was malformed, of an unknown type, unexpected, or about an execution not ours."""
CLOSE_UNAUTHORIZED = 4401
"""The agent key is missing or wrong."""
CLOSE_REVOKED = 4403
"""The agent was revoked; it must not reconnect with this key."""
CLOSE_REPLACED = 4409
"""Another connection of the same agent took over."""
CLOSE_TOO_LARGE = 4413
"""A frame was above the size limit."""
CLOSE_UNSUPPORTED_VERSION = 4426
"""The peers share no protocol version."""


class ProtocolError(Exception):
    """A peer broke the protocol.

    Args:
        message: one sentence naming what is wrong (safe to send to the peer).
    """

    code: str = "protocol_error"
    close_code: int = CLOSE_PROTOCOL_ERROR

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class MalformedMessage(ProtocolError):
    """The frame is not JSON, not an object, or a field is missing, unknown or of the wrong type."""

    code = "malformed"

    @classmethod
    def from_validation_error(cls, type_name: str, err: ValidationError) -> MalformedMessage:
        """One sentence for a pydantic error: the JSON path and problem of the first three errors.

        Args:
            type_name: the message type that was being validated.
            err: the pydantic error; its input values are never quoted.

        Returns:
            The error to raise (`from None`, so the pydantic error is not chained into logs).
        """
        errors = err.errors(include_input=False, include_url=False)
        parts = []
        for error in errors[:3]:
            path = _json_path(error["loc"])
            if error["type"] == "extra_forbidden":
                parts.append(f"{path}: unknown field")
            elif error["type"] == "missing":
                parts.append(f"{path}: required field is missing")
            else:
                parts.append((f"{path}: " if path else "") + error["msg"].removeprefix("Value error, "))
        more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
        return cls(f"invalid {type_name!r} message: {'; '.join(parts)}{more}")


class FrameTooLarge(ProtocolError):
    """The frame is larger than the receiver accepts; refused before parsing."""

    code = "too_large"
    close_code = CLOSE_TOO_LARGE

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"the frame is {size:,} bytes, above the limit of {limit:,} bytes")


class UnknownMessageType(ProtocolError):
    """The `type` of the message names no message this side accepts."""

    code = "unknown_type"

    def __init__(self, type_name: str, known: Iterable[str]) -> None:
        self.type_name = type_name
        self.known = tuple(known)
        shown = type_name if len(type_name) <= 60 else type_name[:60] + "…"  # the peer chose its length
        super().__init__(f"unknown message type {shown!r}; known types: {', '.join(self.known)}")


class UnsupportedVersion(ProtocolError):
    """The peer asked for a protocol version this side does not speak."""

    code = "unsupported_version"
    close_code = CLOSE_UNSUPPORTED_VERSION

    def __init__(self, version: int, supported: Iterable[int]) -> None:
        self.version = version
        self.supported = tuple(sorted(supported))
        listed = ", ".join(str(v) for v in self.supported)
        super().__init__(f"protocol version {version} is not supported; supported versions: {listed}")


class UnexpectedMessage(ProtocolError):
    """The message is valid but not allowed in the connection's current state."""

    code = "unexpected"

    def __init__(self, got: str, expected: str) -> None:
        self.got = got
        self.expected = expected
        super().__init__(f"unexpected {got!r} message; expected {expected}")


class NotYours(ProtocolError):
    """The message is about an execution (attempt) that is not assigned to this connection."""

    code = "not_yours"

    def __init__(self, execution_id: str, attempt: int) -> None:
        self.execution_id = execution_id
        self.attempt = attempt
        super().__init__(f"execution {execution_id!r} attempt {attempt} is not assigned to this connection")


def _json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic error location as a path: `events[3].seq`, `secrets["a.b"]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out

"""What an agent may put into the orchestrator's log: one line per message, escaped, within a budget.

An agent's log message is text from a machine the orchestrator does not control. Written as it
is, a newline starts what looks like a line of the orchestrator's own (a forged entry), an ANSI
escape rewrites the operator's terminal, and a connection that sends lines as fast as it can
fills the disk. So every control character is written escaped (`\\n`, `\\x1b`, `\\u2028`), and
each connection has a byte budget per minute (`RPA_AGENT_LOG_BYTES_PER_MINUTE`, a token bucket):
lines past it are dropped, and how many is said once the budget allows a line again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(text: str) -> str:
    """`text` with every control, line-separator and bidi-override character escaped, and each
    backslash doubled so an escape written by the agent cannot pass for one made here."""
    return _CONTROL.sub(_escape, text.replace("\\", "\\\\"))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class LogBudget:
    """A token bucket of bytes: `per_minute` to spend, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.tokens = float(per_minute)
        self.updated = clock()
        self.dropped = 0
        """Lines refused since the last one let through."""

    def take(self, size: int) -> bool:
        """Spend `size` bytes if the budget holds them; count a dropped line if not."""
        now = self.clock()
        self.tokens = min(float(self.per_minute), self.tokens + (now - self.updated) * self.per_minute / 60.0)
        self.updated = now
        if size > self.tokens:
            self.dropped += 1
            return False
        self.tokens -= size
        return True

"""The agent's environment: what a flow's `env.*` shows, and what the agent process sets for itself.

A flow sees only the variables the agent's owner allowed.

The machine's environment holds the agent's own settings and often credentials (cloud keys,
tokens, proxies with passwords); a flow, written by whoever may publish one, must not read them
by default. The allowlist is the agent's setting (`rpa agent --env NAME,NAME`, or
`RPA_AGENT_ENV`), never something a flow asks for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = ["ENV_SETTING", "PROCESS_ENV", "allowed_env", "apply_process_env", "parse_allowlist"]

ENV_SETTING = "RPA_AGENT_ENV"
PROCESS_ENV: dict[str, str] = {
    # OpenMP in one thread: tesseract's own threads made an A4 page 5x slower on a 2-core
    # machine (21 s against 3.9 s); the OCR steps run one tesseract process per core instead.
    # Set on the agent process, so every child it starts (tesseract, a flow's commands) has it.
    "OMP_THREAD_LIMIT": "1",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_allowlist(text: str) -> list[str]:
    """Names from a comma-separated list.

    Raises:
        ValueError: A name that is not an environment variable's (names the first one).
    """
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"'{name}' is not an environment variable name")
    return sorted(set(names))


def allowed_env(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allowed variables that are set (an allowed name that is not set is simply absent)."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in names if name in environ}


def apply_process_env(environ: dict[str, str] | os._Environ[str] | None = None) -> None:
    """Set `PROCESS_ENV` in the agent process's environment (always: the agent relies on it)."""
    target = os.environ if environ is None else environ
    target.update(PROCESS_ENV)

"""What a flow's `env.*` shows on this agent: only the variables the agent's owner allowed.

The machine's environment holds the agent's own settings and often credentials (cloud keys,
tokens, proxies with passwords); a flow, written by whoever may publish one, must not read them
by default. The allowlist is the agent's setting (`rpa agent --env NAME,NAME`, or
`RPA_AGENT_ENV`), never something a flow asks for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

__all__ = ["ENV_SETTING", "allowed_env", "parse_allowlist"]

ENV_SETTING = "RPA_AGENT_ENV"
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

"""The agent runtime the tray runs, built from this machine's enrolled identity (Qt-free).

`rpa tray` starts whether or not the machine is enrolled: with no identity it shows the
not-enrolled state and builds the runtime with `build_runtime` once Sign in… or Enrol this
machine… has stored one, on the same event loop, without a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent.keystore import agent_home, load_identity
from agent.runtime import AgentConfig, AgentRuntime

RuntimeFactory = Callable[[], AgentRuntime]
"""Builds the runtime of the identity stored now; raises `KeystoreError` when there is none."""


def build_runtime(*, key_file: Path | None = None, url: str | None = None) -> AgentRuntime:
    """The agent runtime of this machine's enrolled identity (not started).

    Args:
        key_file: read the agent key from this file instead of the OS keyring.
        url: the orchestrator's URL; None: the one the machine was enrolled with.

    Raises:
        KeystoreError: not enrolled, the key missing, or the keyring unusable (the message says which).
    """
    from agent.capabilities import detect_capabilities
    from agent.cli import agent_version

    identity, key = load_identity(key_file=key_file)
    config = AgentConfig(
        url=url or identity.url,
        key=key,
        name=identity.name,
        home=agent_home(),
        labels=list(identity.labels),
        capabilities=detect_capabilities(),
        version=agent_version(),
        key_source=lambda: load_identity(key_file=key_file)[1],
    )
    return AgentRuntime(config)


def runtime_factory(*, key_file: Path | None = None, url: str | None = None) -> RuntimeFactory:
    """`build_runtime` with these options, for the tray to call once the machine is enrolled."""
    return lambda: build_runtime(key_file=key_file, url=url)

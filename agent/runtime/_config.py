"""The agent runtime's settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class AgentConfig:
    url: str
    key: str
    name: str
    home: Path
    labels: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    max_jobs: int = 1
    version: str = "0.0.0"
    backoff_min_s: float = 0.2
    backoff_max_s: float = 10.0
    key_source: Callable[[], str] | None = None
    """Reads the key stored on this machine again before each connection attempt, so a key installed
    with `rpa agent set-key` (after a rotation) is used without restarting the agent."""

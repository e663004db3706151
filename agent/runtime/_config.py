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
    backoff_max_s: float = 5.0
    """The longest wait between two connection attempts; the lease the orchestrator announces
    lowers it further (to half the lease), so an agent is back before its executions move."""
    reconnect_spread_s: float = 3.0
    """After the orchestrator closed the connection in an orderly way (a restart), the first
    attempt waits a random time up to this, so that a fleet does not come back all at once."""
    healthy_s: float = 5.0
    """A connection up this long resets the reconnect delay, however it ends."""
    backoff_seed: int | None = None
    """Seeds the reconnect jitter (tests replay a run with it); None: unpredictable."""
    health_probe_s: float = 1.0
    """How often an agent whose outbox cannot be written tries again."""
    env_allowlist: list[str] = field(default_factory=list)
    """The environment variables flows may read as `env.*` (`agent/environment.py`); none by default."""
    asset_cache_bytes: int = 512 * 1024 * 1024
    """The bound of the cache of flow assets (`<home>/assets`), least recently used evicted first."""
    key_source: Callable[[], str] | None = None
    """Reads the key stored on this machine again before each connection attempt, so a key installed
    with `rpa agent set-key` (after a rotation) is used without restarting the agent."""

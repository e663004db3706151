"""How the agent process runs Python's cyclic garbage collector.

An agent imports the engine, pydantic, every step family's models and its connection state
before it runs anything: tens of thousands of objects that live as long as the process. CPython
3.11's full collection walks all of them each time it runs, and during a run of many short
steps (HTTP calls against a fast API) one full collection per thousand steps cost about as much
as the engine's own work on those steps (bench/README.md, integrations). `gc.freeze()` after
start-up moves them out of the collector's way: later collections only walk what executions
allocated.

Young collections are rarer too: a step allocates a few hundred short-lived containers (the
request, the answer, its headers, the events), nearly all freed by reference counting, and
Python's default of one collection every 700 allocations walked them again and again. The
first generation's threshold is raised while the policy is installed; an idle agent allocates
almost nothing, so the raised threshold only matters while executions run. Collection is never
disabled: the older generations keep Python's thresholds, so a full collection still comes
after enough long-lived allocations, and cyclic garbage made by executions is reclaimed.

Installed by `rpa agent` (one process, one policy), never by `AgentRuntime` itself: tests and
embedders that build runtimes keep Python's defaults.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

YOUNG_THRESHOLD = 10_000
"""Allocations (minus frees) between two young collections while installed (Python's: 700)."""

ENV_YOUNG_THRESHOLD = "RPA_AGENT_GC_YOUNG"
"""Overrides `YOUNG_THRESHOLD`; 0 keeps Python's."""


def _young_from_env() -> int:
    raw = os.environ.get(ENV_YOUNG_THRESHOLD, "").strip()
    if not raw:
        return YOUNG_THRESHOLD
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_YOUNG_THRESHOLD} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_YOUNG_THRESHOLD} must be 0 or more, not {value}")
    return value


@dataclass
class AgentGcPolicy:
    """Freeze what start-up made, and collect the youngest generation less often.

    Args:
        young_threshold: the first generation's threshold while installed; 0 keeps Python's.
    """

    young_threshold: int = field(default_factory=_young_from_env)
    frozen: int = 0
    """Objects moved to the permanent generation by `install`."""
    _saved: tuple[int, int, int] | None = field(default=None, repr=False)

    def install(self) -> AgentGcPolicy:
        """Collect once, freeze the survivors, raise the young threshold. Idempotent."""
        if self._saved is not None:
            return self
        gc.collect()
        gc.freeze()
        self.frozen = gc.get_freeze_count()
        saved = gc.get_threshold()
        self._saved = (saved[0], saved[1], saved[2])
        if self.young_threshold > 0:
            gc.set_threshold(self.young_threshold, saved[1], saved[2])
        return self

    def uninstall(self) -> None:
        """Put Python's thresholds back and return the frozen objects to the collector."""
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None

    @property
    def installed(self) -> bool:
        """Whether `install` is in effect."""
        return self._saved is not None

    @contextmanager
    def applied(self) -> Iterator[AgentGcPolicy]:
        """`install` for the duration of a `with` block."""
        self.install()
        try:
            yield self
        finally:
            self.uninstall()

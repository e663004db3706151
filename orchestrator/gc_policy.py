"""How the orchestrator process runs Python's cyclic garbage collector.

With thousands of agent connections the heap holds millions of long-lived objects (sockets,
protocol state, tasks), and CPython 3.11's full collection walks all of them while the event
loop stands still: seconds at 10,000 agents, so every heartbeat in flight waits that long.

The policy: whatever survived a full collection is long-lived; `gc.freeze()` moves it out of
the collector's way, so the next full collection only walks what was allocated since. Garbage
made of frozen objects (a closed connection's reference cycles) is not collected until the
periodic maintenance (`full_every_s`, default one hour) unfreezes the heap and runs one full
collection: a single pause per hour instead of one every few seconds under load, and memory
stays bounded by one hour of connection churn.

Young collections are fewer too: the first generation is collected after `young_threshold`
allocations (Python's default is 700). A request and the messages of an execution allocate
thousands of short-lived objects, nearly all freed by reference counting; collecting every 700
walked them again and again; 20,000 did better in the dispatch benchmark (bench/README.md).

Installed by `rpa orchestrator` (one process, one policy), never by the app factory: tests and
embedders that build apps keep Python's defaults.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("rpa.orchestrator.gc")

SLOW_COLLECTION_S = 0.05
"""A full collection at least this long is logged (every request and heartbeat in flight waited)."""


@dataclass
class GcPolicy:
    full_every_s: float = 3600.0
    young_threshold: int = 20_000
    """Allocations (minus frees) between two collections of the youngest generation; 0 keeps Python's."""
    full_collections: int = 0
    maintenance_runs: int = 0
    last_pause_s: float = 0.0
    _timer: threading.Timer | None = field(default=None, repr=False)
    _started: float = field(default=0.0, repr=False)
    _thresholds: tuple[int, int, int] | None = field(default=None, repr=False)

    def install(self) -> GcPolicy:
        gc.collect()
        gc.freeze()  # the imported code, the app and its settings: alive for the whole process
        if self.young_threshold > 0:
            self._thresholds = gc.get_threshold()
            gc.set_threshold(self.young_threshold, *self._thresholds[1:])
        gc.callbacks.append(self._on_collection)
        self._schedule()
        return self

    def uninstall(self) -> None:
        if self._on_collection in gc.callbacks:
            gc.callbacks.remove(self._on_collection)
        if self._timer is not None:
            self._timer.cancel()
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None
        gc.unfreeze()

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.full_collections += 1
        self.last_pause_s = time.perf_counter() - self._started
        if self.last_pause_s >= SLOW_COLLECTION_S:
            log.warning(
                "a full garbage collection held the server for %.0f ms (%d objects collected)",
                self.last_pause_s * 1000,
                info.get("collected", 0),
            )
        # Survivors of a full collection are long-lived: out of the next one's way. (Freezing inside
        # the callback is safe: the collection has finished.)
        gc.freeze()

    def _schedule(self) -> None:
        if self.full_every_s <= 0:
            return
        self._timer = threading.Timer(self.full_every_s, self.maintain)
        self._timer.daemon = True
        self._timer.start()

    def maintain(self) -> float:
        """Unfreeze, collect everything once (frozen cyclic garbage included), freeze again.
        Returns the pause in seconds."""
        started = time.perf_counter()
        gc.unfreeze()
        found = gc.collect()
        gc.freeze()
        pause = time.perf_counter() - started
        self.maintenance_runs += 1
        log.info("garbage collector maintenance: %d unreachable objects freed in %.2f s", found, pause)
        self._schedule()
        return pause

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

During a reconnect storm (the agent handshake gate has a queue, `runtime/admission.py`) full
collections are deferred: the storm makes millions of objects that survive it (the connections
coming back), so a full collection in the middle of it walks them all while every API request
waits (1.1-1.4 s pauses were measured mid-storm at 10,000 agents). `storm(True)` raises the third
generation's threshold out of reach; `storm(False)` puts it back and freezes what the storm left,
the returned connections, without walking it. Cyclic garbage the storm made waits for the next
maintenance with the rest. The deferral never outlives `storm_max_s`: a storm that does not end
gets its collections back, and a warning.

Installed by `rpa orchestrator` (one process, one policy), never by the app factory: tests and
embedders that build apps keep Python's defaults. `during_storm` tells the installed policy, if any.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("rpa.orchestrator.gc")

_installed: GcPolicy | None = None
_lock = threading.Lock()  # `storm` runs on the event loop and in the bound's timer thread

DEFERRED_THRESHOLD = 1_000_000_000
"""The third generation's threshold while full collections are deferred: never reached."""

SLOW_COLLECTION_S = 0.05
"""A full collection at least this long is logged (every request and heartbeat in flight waited)."""


@dataclass
class GcPolicy:
    full_every_s: float = 3600.0
    young_threshold: int = 20_000
    """Allocations (minus frees) between two collections of the youngest generation; 0 keeps Python's."""
    storm_max_s: float = 300.0
    """The longest a storm defers full collections."""
    full_collections: int = 0
    maintenance_runs: int = 0
    last_pause_s: float = 0.0
    longest_pause_s: float = 0.0
    storms: int = 0
    deferred_since: float | None = None
    """When full collections were deferred (monotonic seconds); None: they are not."""
    _timer: threading.Timer | None = field(default=None, repr=False)
    _bound: threading.Timer | None = field(default=None, repr=False)
    _deferred: int = field(default=0, repr=False)
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
        global _installed  # one policy per process: `during_storm` finds it here
        _installed = self
        return self

    def uninstall(self) -> None:
        global _installed
        if _installed is self:
            _installed = None
        self.storm(False)
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
        self.longest_pause_s = max(self.longest_pause_s, self.last_pause_s)
        if self.last_pause_s >= SLOW_COLLECTION_S:
            log.warning(
                "a full garbage collection held the server for %.0f ms (%d objects collected)",
                self.last_pause_s * 1000,
                info.get("collected", 0),
            )
        # Survivors of a full collection are long-lived: out of the next one's way. (Freezing inside
        # the callback is safe: the collection has finished.)
        gc.freeze()

    def storm(self, active: bool) -> None:
        """Defer full collections (`active`) or end the deferral: threshold back, the storm's
        survivors frozen. Either twice is the same as once."""
        with _lock:
            if active and self.deferred_since is None:
                self.deferred_since = time.monotonic()
                self.storms += 1
                young, middle, self._deferred = gc.get_threshold()
                gc.set_threshold(young, middle, DEFERRED_THRESHOLD)
                self._bound = threading.Timer(self.storm_max_s, self._outlived)
                self._bound.daemon = True
                self._bound.start()
                log.info("full garbage collections deferred while agents reconnect")
            elif not active and self.deferred_since is not None:
                lasted = time.monotonic() - self.deferred_since
                self.deferred_since = None
                if self._bound is not None:
                    self._bound.cancel()
                young, middle, _ = gc.get_threshold()
                gc.set_threshold(young, middle, self._deferred)
                gc.freeze()  # what came back in the storm is long-lived: out of the next collection's way
                log.info("full garbage collections resumed after %.1f s of reconnect storm", lasted)

    def _outlived(self) -> None:
        log.warning("a reconnect storm outlived %.0f s: full garbage collections resumed", self.storm_max_s)
        self.storm(False)

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


def during_storm(active: bool) -> None:
    """Tell the installed policy (if any) that a reconnect storm began (`active`) or ended."""
    if _installed is not None:
        _installed.storm(active)

"""Orchestrator calls off the UI thread, their answers back on it.

`Calls` runs a blocking call in a small thread pool and hands its result (or its `ApiError`) to
a callback on the Qt thread through a queued signal. `JournalFeed` reads an execution's
Server-Sent Events in a thread of its own, keeps them in a queue, and signals the UI once per
batch (not once per event), so a fast journal costs the event loop one short slot call per
batch. A slow or silent server never blocks the window.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal

from shared.client import ApiError
from studio.views.monitor.model import MonitorSource

Callback = Callable[[Any], None]
Errback = Callable[[Exception], None]


class Calls(QObject):
    """A thread pool whose answers come back on the Qt thread."""

    _done = Signal(object)

    def __init__(self, parent: QObject | None = None, *, workers: int = 2) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpa-monitor")
        self._done.connect(self._deliver)
        self.pending = 0
        self.closed = False

    def call(self, fn: Callable[..., Any], *args: Any, done: Callback, failed: Errback | None = None) -> None:
        """Run `fn(*args)` in a worker; then `done(result)` or `failed(error)` on the Qt thread."""
        if self.closed:
            return
        self.pending += 1
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda f: self._emit((f, done, failed)))

    def _emit(self, packet: tuple[Future[Any], Callback, Errback | None]) -> None:
        try:
            self._done.emit(packet)
        except RuntimeError:  # the widget went away while the call ran
            pass

    def _deliver(self, packet: tuple[Future[Any], Callback, Errback | None]) -> None:
        future, done, failed = packet
        self.pending -= 1
        if self.closed or future.cancelled():
            return
        error = future.exception()
        if error is None:
            done(future.result())
        elif failed is not None and isinstance(error, Exception):
            failed(error)

    def close(self) -> None:
        """Drop answers still to come and let the workers end."""
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


class JournalFeed(QObject):
    """Follows one execution's journal (`stream_execution(follow=True)`) in a thread.

    `ready` is emitted when events are waiting; `take()` returns them (a bounded batch, so the
    UI thread folds a burst in slices). The last item of a
    finished feed is `("end", {state, last_seq})`; a broken stream is resumed after the last
    seq received, and after `retries` failures in a row the feed ends with `("error", message)`.
    """

    ready = Signal()

    def __init__(
        self, source: MonitorSource, execution_id: str, parent: QObject | None = None, *, retries: int = 5
    ) -> None:
        super().__init__(parent)
        self.source = source
        self.execution_id = execution_id
        self.retries = retries
        self._queue: collections.deque[tuple[str, Any]] = collections.deque()
        self._lock = threading.Lock()
        self._signalled = False
        self._stop = threading.Event()
        self.last_seq = 0
        self._thread = threading.Thread(target=self._run, name=f"rpa-journal-{execution_id[:8]}", daemon=True)

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def stop(self) -> None:
        """Stop reading (the thread ends at the next event or keep-alive)."""
        self._stop.set()

    def take(self, limit: int | None = None) -> tuple[list[tuple[str, Any]], bool]:
        """Up to `limit` of the events received (all when None), and whether more are waiting
        (then no `ready` comes for them: take again)."""
        with self._lock:
            count = len(self._queue) if limit is None else min(limit, len(self._queue))
            items = [self._queue.popleft() for _ in range(count)]
            more = bool(self._queue)
            self._signalled = more
        return items, more

    def _put(self, item: tuple[str, Any]) -> None:
        with self._lock:
            self._queue.append(item)
            signal = not self._signalled
            self._signalled = True
        if signal:
            try:
                self.ready.emit()
            except RuntimeError:  # the view went away
                self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                for kind, data in self.source.stream_execution(self.execution_id, follow=True, after_seq=self.last_seq):
                    if self._stop.is_set():
                        return
                    if kind == "journal":
                        self.last_seq = int(data.get("seq") or self.last_seq)
                        failures = 0
                    self._put((kind, data))
                    if kind == "end":
                        return
            except ApiError as error:
                failures += 1
                if failures > self.retries or error.status not in (0, 401, 502, 503, 504):
                    self._put(("error", error.message))
                    return
            else:
                failures += 1  # the stream ended without its `end` event
                if failures > self.retries:
                    self._put(("error", "the journal stream ended early"))
                    return
            time.sleep(min(0.2 * 2**failures, 3.0))

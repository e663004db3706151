"""Pages of one document recognised in parallel: one tesseract process per core.

A thread per worker drives one tesseract child (the child does the work, so the GIL is no
limit; numpy and OpenCV release it during the preparation). Pages are produced in order by
the caller's thread (pdfium is not thread-safe, so rendering stays in one thread) and at most
`workers + 1` pages wait in memory: a 300 dpi page is ~9 MB of grey pixels, a 500-page file
does not need 4.5 GB. Cancelling the execution, or one page failing, kills the running
children and drops the pages not started.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Generic, TypeVar

from shared.errors import StepCancelled

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")


def core_count() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


class _Run(Generic[T]):
    """One document's pages in flight: the stop flag, the free slots, the first error."""

    def __init__(self, work: Callable[[int, Image.Image, Callable[[], bool]], T], cancelled: Callable[[], bool] | None):
        self.work = work
        self.cancelled = cancelled
        self.failed = threading.Event()
        self.errors: list[BaseException] = []

    def stop(self) -> bool:
        return self.failed.is_set() or (self.cancelled is not None and self.cancelled())

    def run(self, number: int, image: Image.Image) -> T:
        try:
            return self.work(number, image, self.stop)
        except BaseException as exc:
            if not self.stop():  # the first failure; the pages it stops fail with StepCancelled
                self.errors.append(exc)
            self.failed.set()
            raise

    def wait_for_slot(self, slots: threading.BoundedSemaphore) -> bool:
        """Block until a page may start; False when the run is stopping instead."""
        while not slots.acquire(timeout=0.1):
            if self.stop():
                return False
        if self.stop():
            slots.release()
            return False
        return True


def process_pages(
    pages: Iterable[tuple[int, Image.Image]],
    work: Callable[[int, Image.Image, Callable[[], bool]], T],
    *,
    workers: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[T]:
    """Run `work(number, image, stop)` on every page, `workers` at a time; results in page order.

    Args:
        pages: `(page number, image)` pairs, produced lazily in the calling thread.
        work: recognises one page; must poll `stop()` (true once cancelled or another page failed).
        workers: parallel pages; the core count when None.
        cancelled: the execution's cancellation flag.

    Raises:
        StepCancelled: when `cancelled()` turned true.
        Exception: the first page's error, as `work` raised it.
    """
    count = max(1, workers or core_count())
    state = _Run(work, cancelled)
    slots = threading.BoundedSemaphore(count)  # + the next page, rendered while all are busy
    futures: list[Future[T]] = []
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="ocr-page") as pool:
        try:
            for number, image in pages:
                if not state.wait_for_slot(slots):
                    break
                future = pool.submit(state.run, number, image)
                future.add_done_callback(lambda _: slots.release())
                futures.append(future)
        except BaseException:
            state.failed.set()  # a page that cannot be rendered stops the ones running
            raise
        finally:
            if state.stop():
                for future in futures:
                    future.cancel()
    if state.errors:
        raise state.errors[0]
    if cancelled is not None and cancelled():
        raise StepCancelled("the execution was cancelled during OCR")
    return [future.result() for future in futures]

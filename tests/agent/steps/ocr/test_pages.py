"""process_pages: order, the bound on pages in memory, and stopping on the first failure."""

from __future__ import annotations

import threading
import time

import pytest
from PIL import Image

from agent.steps.ocr._pages import process_pages
from shared.errors import StepCancelled


def pages(count: int, produced: list[int], fail_at: int | None = None):
    for number in range(1, count + 1):
        if number == fail_at:
            raise RuntimeError(f"page {number} cannot be rendered")
        produced.append(number)
        yield number, Image.new("L", (4, 4))


def test_results_in_page_order_and_at_most_workers_plus_one_pages_ahead():
    produced: list[int] = []
    finished: list[int] = []
    ahead: list[int] = []
    lock = threading.Lock()

    def work(number, image, stop):
        with lock:
            ahead.append(len(produced) - len(finished))
        time.sleep(0.02 * (5 - number % 5))  # later pages finish first
        with lock:
            finished.append(number)
        return number * 10

    assert process_pages(pages(10, produced), work, workers=2) == [n * 10 for n in range(1, 11)]
    assert max(ahead) <= 3


def test_a_page_that_fails_stops_the_others_and_its_error_is_raised():
    stopped = threading.Event()

    def work(number, image, stop):
        if number == 2:
            raise ValueError("page 2 is unreadable")
        while not stop():
            time.sleep(0.01)
        stopped.set()
        raise StepCancelled("stopped")

    with pytest.raises(ValueError, match="page 2 is unreadable"):
        process_pages(pages(6, []), work, workers=2)
    assert stopped.is_set()


def test_a_page_that_cannot_be_rendered_stops_the_running_ones():
    stopped = threading.Event()

    def work(number, image, stop):
        deadline = time.monotonic() + 10
        while not stop():
            assert time.monotonic() < deadline, "the running page was never told to stop"
            time.sleep(0.01)
        stopped.set()
        raise StepCancelled("stopped")

    with pytest.raises(RuntimeError, match="page 2 cannot be rendered"):
        process_pages(pages(4, [], fail_at=2), work, workers=2)
    assert stopped.is_set()


def test_cancellation_drops_the_pages_not_started():
    cancel = threading.Event()
    started: list[int] = []

    def work(number, image, stop):
        started.append(number)
        cancel.set()
        while not stop():
            time.sleep(0.01)
        raise StepCancelled("stopped")

    with pytest.raises(StepCancelled):
        process_pages(pages(20, []), work, workers=2, cancelled=cancel.is_set)
    assert len(started) <= 3

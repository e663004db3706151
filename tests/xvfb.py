"""A throwaway X display for the tests: Debian's Xvfb, stopped by PID at the end.

`-displayfd` makes Xvfb pick a free display number itself and write it to a pipe, so suites
running side by side never collide. A missing Xvfb fails the tests with the fix, never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def xvfb_display(width: int, height: int) -> Iterator[str]:
    """Start Xvfb at `width`x`height`x24 (no TCP) and yield its display name, e.g. ":5"."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.fail("Xvfb is not installed: run installer/system-deps.sh (package xvfb)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        process.wait()
        pytest.fail("Xvfb did not start (no display number reported)")
    try:
        yield f":{number}"
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

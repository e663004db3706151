"""A real full disk for tests: a small tmpfs mounted on a folder, filled to the last byte by a
filler file; removing the filler frees the disk again. Mounting needs root (the test machines and
CI run the suite as root; PostgreSQL tests rely on it too)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

FILLER = ".filler"


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "4m") -> Iterator[Path]:
    """Mount a tmpfs of `size` on `folder` (created) for the duration."""
    assert os.geteuid() == 0, "a full disk is made with a tmpfs mount, which needs root"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Take every free byte of the disk `folder` is on."""
    fd = os.open(folder / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, b"\0" * 512)
    finally:
        os.close(fd)


def free(folder: Path) -> None:
    """Give the space back."""
    (folder / FILLER).unlink(missing_ok=True)

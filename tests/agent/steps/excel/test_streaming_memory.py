"""The streaming reader's memory does not grow with the number of rows.

Each read runs in a fresh subprocess that reports the growth of its peak RSS (VmHWM) during
the read. The whole-sheet reader (python-calamine) is measured on the same file as the
control: it must exceed the bound the streaming reader stays under, or the test proves nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.agent.steps.excel.bigbook import write_big_book

ROWS = 200_000
BOUND_MB = 60

_PROBE = textwrap.dedent(
    """
    import json, sys
    from agent.steps.excel import read_rows
    import python_calamine  # imported before the baseline
    def peak():
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child of a large
        # pytest process would start with the parent's peak.
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc/self/status")
    base = peak()
    count = 0
    last = None
    with read_rows(sys.argv[1], stream=sys.argv[2] == "stream") as rows:
        for last in rows:
            count += 1
    print(json.dumps({"grown_mb": peak() - base, "rows": count, "last": last}))
    """
)


def _measure(path: Path, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), mode], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def big_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_big_book(tmp_path_factory.mktemp("big") / "big.xlsx", ROWS)


def test_streaming_read_stays_flat_where_a_whole_sheet_read_does_not(big_book: Path) -> None:
    streamed = _measure(big_book, "stream")
    whole = _measure(big_book, "whole")
    assert streamed["rows"] == whole["rows"] == ROWS
    assert streamed["last"] == whole["last"]
    assert streamed["last"] == {
        "id": ROWS - 1,
        "amount": (ROWS - 1) * 1.25,
        "day": "2028-09-03",
        "name": f"name number {ROWS - 1}",
        "flag": True,
        "c6": ROWS - 1,
        "c7": ROWS,
        "c8": ROWS + 1,
        "c9": ROWS + 2,
        "c10": ROWS + 3,
    }
    assert whole["grown_mb"] > BOUND_MB, f"the control read grew only {whole['grown_mb']:.0f} MB"  # type: ignore[operator]
    assert streamed["grown_mb"] < BOUND_MB, f"streaming grew {streamed['grown_mb']:.0f} MB"  # type: ignore[operator]

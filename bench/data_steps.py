#!/usr/bin/env python3
"""Data steps benchmark: Excel read and write next to the libraries and rpaframework.

    .venv/bin/python bench/data_steps.py [--rows 20000] [--peers-python .venv-peers/bin/python]
                                         [--out bench/results/data_steps.json] [--only read-ours,...]
                                         [--source big.xlsx]

Writes N rows x 10 columns (int, float, date, text, boolean, five numbers) with our
`excel.write` path (streamed, openpyxl `write_only`) and with openpyxl directly (`write_only`
and normal mode), then reads that file with our `excel.read` (python-calamine), our streaming
reader, python-calamine directly, openpyxl `read_only` and rpaframework's `RPA.Excel.Files`
(under `--peers-python`). Every case runs in a fresh child process (this file with `--child`),
so its CPU time and peak RSS are its own; peak RSS is the whole process (interpreter included).

The PDF and files benchmarks add their rows when `bench/_data_pdf.py` / `bench/_data_files.py`
exist: each exposes `run(args) -> list[dict]` and `add_arguments(parser)` (`--pages`/`--quick`,
`--size-mib`/`--repeat`/`--no-s3`/`--workdir`), listed by `--help`; `--only` picks Excel cases.
A small run: `--rows 2000 --pages 20 --size-mib 16 --repeat 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _sections  # bench/_sections.py: this script's folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "data_steps.json"
DEFAULT_PEERS = ROOT / ".venv-peers" / "bin" / "python"
PEER_SCRIPT = ROOT / "bench" / "peers" / "rpaframework_excel.py"
COLUMNS = ["id", "amount", "day", "name", "flag", "c6", "c7", "c8", "c9", "c10"]
HOOKS = ("_data_pdf", "_data_files")

TARGET_VS_RPAFRAMEWORK = 15.0
"""excel.read must be at least this many times faster (CPU) than RPA.Excel.Files."""
TARGET_VS_CALAMINE = 1.3
"""excel.read may cost at most this many times python-calamine called directly."""
TARGET_STREAM_MB = 200.0
"""Peak RSS of the streaming read (at 1,000,000 rows in the issue's target)."""


def _values(i: int, iso_dates: bool) -> list[Any]:
    day = dt.date(2026, 1, 1) + dt.timedelta(days=i % 1000)
    return [i, i * 1.25, day.isoformat() if iso_dates else day, f"name {i}", i % 2 == 0, i, i + 1, i * 0.5, -i, i % 7]


def _table_rows(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        yield dict(zip(COLUMNS, _values(i, iso_dates=True), strict=True))


# -- the cases (each runs in its own child process) ----------------------------------------------


def write_ours(path: Path, n: int) -> int:
    from agent.steps.excel import write_rows
    from shared.tables import RowStream

    return write_rows(path, RowStream(COLUMNS, _table_rows(n)))


def _write_openpyxl(path: Path, n: int, write_only: bool) -> int:
    import openpyxl

    book = openpyxl.Workbook(write_only=write_only)
    sheet = book.create_sheet("Sheet1") if write_only else book.active
    sheet.append(COLUMNS)
    for i in range(n):
        sheet.append(_values(i, iso_dates=False))
    book.save(path)
    return n


def read_ours(path: Path, _n: int) -> int:
    from agent.steps.excel import excel_read
    from shared.steps import StepEnvironment

    return len(asyncio.run(StepEnvironment().run(excel_read, {"path": str(path)})))


def read_ours_stream(path: Path, _n: int) -> int:
    from agent.steps.excel import read_rows

    count = 0
    with read_rows(path, stream=True) as rows:
        for _row in rows:
            count += 1
    return count


def read_calamine(path: Path, _n: int) -> int:
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return len(book.get_sheet_by_index(0).to_python()) - 1


def read_openpyxl(path: Path, _n: int) -> int:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    count = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True)) - 1
    book.close()
    return count


CASES: dict[str, Callable[[Path, int], int]] = {
    "write-ours": write_ours,
    "write-openpyxl-write_only": lambda p, n: _write_openpyxl(p, n, write_only=True),
    "write-openpyxl-normal": lambda p, n: _write_openpyxl(p, n, write_only=False),
    "read-ours": read_ours,
    "read-ours-stream": read_ours_stream,
    "read-calamine": read_calamine,
    "read-openpyxl-read_only": read_openpyxl,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(case: str, path: Path, n: int) -> None:
    """Run one case and print one JSON line (rows, cpu_s, wall_s, peak_mb).

    The libraries are imported before the clock starts, for every case alike: start-up is not
    what is compared.
    """
    import openpyxl  # noqa: F401
    import python_calamine  # noqa: F401

    import agent.steps.excel
    import shared.steps  # noqa: F401

    del agent
    cpu, wall = _cpu(), time.perf_counter()
    rows = CASES[case](path, n)
    print(
        json.dumps(
            {
                "rows": rows,
                "cpu_s": _cpu() - cpu,
                "wall_s": time.perf_counter() - wall,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


# -- the driver ----------------------------------------------------------------------------------------


def _run(command: list[str], case: str) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return {"case": case, "error": last}
    return {"case": case, **json.loads(done.stdout.strip().splitlines()[-1])}


def _excel_rows(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    source = Path(args.source) if args.source else folder / "ours.xlsx"
    rows = []
    wanted = set(args.only.split(",")) if args.only else None
    for case in CASES:
        if wanted and case not in wanted and case != "write-ours":
            continue
        if args.source and case.startswith("write"):
            continue
        target = source if case == "write-ours" else folder / f"{case}.xlsx"
        path = target if case.startswith("write") else source
        rows.append(
            _run([sys.executable, __file__, "--child", case, "--file", str(path), "--rows", str(args.rows)], case)
        )
        print(f"  {rows[-1]}", file=sys.stderr)
    peers = Path(args.peers_python)
    if peers.exists() and (wanted is None or "read-rpaframework" in wanted):
        rows.append(_run([str(peers), str(PEER_SCRIPT), "--file", str(source)], "read-rpaframework"))
        print(f"  {rows[-1]}", file=sys.stderr)
    elif not peers.exists():
        rows.append({"case": "read-rpaframework", "error": f"no peers interpreter at {peers}"})
    return rows


def _ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = {row["case"]: row["cpu_s"] for row in rows if "cpu_s" in row}
    peak = {row["case"]: row["peak_mb"] for row in rows if "peak_mb" in row}
    ratios: dict[str, Any] = {}
    if "read-ours" in cpu and "read-rpaframework" in cpu:
        value = cpu["read-rpaframework"] / cpu["read-ours"]
        ratios["rpaframework_over_ours"] = {"value": value, "target": f">= {TARGET_VS_RPAFRAMEWORK}"}
    if "read-ours" in cpu and "read-calamine" in cpu:
        value = cpu["read-ours"] / cpu["read-calamine"]
        ratios["ours_over_calamine"] = {"value": value, "target": f"<= {TARGET_VS_CALAMINE}"}
    if "read-ours-stream" in cpu and "read-openpyxl-read_only" in cpu:
        ratios["openpyxl_read_only_over_stream"] = {"value": cpu["read-openpyxl-read_only"] / cpu["read-ours-stream"]}
    if "read-ours-stream" in peak:
        ratios["stream_peak_mb"] = {"value": peak["read-ours-stream"], "target": f"< {TARGET_STREAM_MB}"}
    if "write-ours" in cpu and "write-openpyxl-write_only" in cpu:
        ratios["ours_over_openpyxl_write_only"] = {"value": cpu["write-ours"] / cpu["write-openpyxl-write_only"]}
    return ratios


def _print_table(rows: list[dict[str, Any]], ratios: dict[str, Any], n: int) -> None:
    print(f"\nExcel, {n:,} rows x 10 columns (CPU seconds of each child process; peak RSS of that process)\n")
    print(f"{'case':28} {'rows':>10} {'CPU s':>9} {'wall s':>9} {'peak MB':>9}")
    for row in rows:
        if "error" in row:
            print(f"{row['case']:28} error: {row['error']}")
            continue
        print(f"{row['case']:28} {row['rows']:>10,} {row['cpu_s']:>9.2f} {row['wall_s']:>9.2f} {row['peak_mb']:>9.0f}")
    print()
    for name, ratio in ratios.items():
        print(f"{name:34} {ratio['value']:>8.2f}   {ratio.get('target', '')}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, add_help=False
    )
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--peers-python", default=str(DEFAULT_PEERS))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--only", default="", help="comma-separated case names (write-ours always runs)")
    parser.add_argument("--source", help="read this .xlsx instead of writing one (the write cases are skipped)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    known, _ = parser.parse_known_args()
    if known.child:  # a measured case: nothing else loaded, so its peak RSS is its own
        child(known.child, Path(known.file), known.rows)
        return
    parser.add_argument("-h", "--help", action="help", help="show this help message and exit")
    hooks = _sections.load(HOOKS, parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rpa-bench-data-") as folder:
        rows = _excel_rows(args, Path(folder))
    ratios = _ratios(rows)
    _print_table(rows, ratios, args.rows)
    for name, module in hooks.items():  # rows of their own shape: a table each
        section = [{"section": name.removeprefix("_data_"), **row} for row in module.run(args)]
        print("\n" + _sections.render_table(section))
        rows.extend(section)
    meta = {
        "rows": args.rows,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": rows, "ratios": ratios}, indent=2) + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()

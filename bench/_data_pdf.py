#!/usr/bin/env python3
"""PDF benchmark: pages per second for text and tables, our steps next to the libraries called directly.

    .venv/bin/python bench/_data_pdf.py [--pages 200] [--quick] [--out bench/results/data_pdf.json]

`run(args)` returns the rows (`bench/data_steps.py` calls it with its own argparse namespace;
`pages` and `quick` are read when present). The document is generated (reportlab): every page a
ruled table of 40 rows under a heading, the same for every library. Serial measurements are CPU
seconds of this process; the process-pool row's pages/s is per wall second, and its CPU seconds
add the workers' (sampled with psutil while they live).
Targets: the fast text path >= 20x pdfplumber's text; tables within 1.05x of pdfplumber with the
same result; tables spread over the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "bench" / "results" / "data_pdf.json"
ROWS_PER_PAGE = 40
TARGET_TEXT_RATIO = 20.0
TARGET_TABLE_RATIO = 1.05


def _cpu(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds, wall seconds, result) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, result


class ChildrenCpu:
    """CPU seconds of this process's children (the pool's workers and its forkserver), sampled
    while they live: they are not children of ours once they exit, so rusage cannot count them."""

    def __init__(self) -> None:
        self.seen: dict[int, float] = {}
        self.before: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                try:
                    times = child.cpu_times()
                except psutil.Error:
                    continue
                self.seen[child.pid] = times.user + times.system
            time.sleep(0.05)

    def __enter__(self) -> ChildrenCpu:
        import psutil

        # Children already alive (the forkserver of an earlier pool) count from here on only.
        for child in psutil.Process().children(recursive=True):
            times = child.cpu_times()
            self.before[child.pid] = times.user + times.system
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())


def _step(step_fn: Any, params: dict[str, Any]) -> Any:
    from shared.steps import StepEnvironment

    async def go() -> Any:
        env = StepEnvironment()
        try:
            return await env.run(step_fn, params)
        finally:
            await env.aclose()

    return asyncio.run(go())


def _pdfium_text(path: Path) -> list[str]:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]

    doc = pdfium.PdfDocument(str(path))
    texts = []
    for page in doc:
        textpage = page.get_textpage()
        texts.append(textpage.get_text_range())
        textpage.close()
        page.close()
    doc.close()
    return texts


def _pypdf_text(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(str(path)).pages]


def _plumber_text(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(str(path)) as doc:
        return [page.extract_text() for page in doc.pages]


def _plumber_tables(path: Path) -> list[list[list[str | None]]]:
    import pdfplumber

    settings = {"vertical_strategy": "lines", "horizontal_strategy": "lines"}
    found = []
    with pdfplumber.open(str(path)) as doc:
        for page in doc.pages:
            found.extend(page.extract_tables(settings))
            page.close()
    return found


def _row(name: str, what: str, pages: int, cpu: float, wall: float, **extra: Any) -> dict[str, Any]:
    measured = wall if what == "tables-pool" else cpu
    return {
        "name": name,
        "what": what,
        "pages": pages,
        "cpu_s": round(cpu, 3),
        "wall_s": round(wall, 3),
        "pages_per_s": round(pages / measured, 1),
        **extra,
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure and return the rows (one per library and task); also prints nothing."""
    from agent.steps import pdf
    from agent.steps.pdf._tables import as_table
    from tests.agent.steps.pdf.documents import long_table_pdf

    pages = 50 if getattr(args, "quick", False) else int(getattr(args, "pages", 200) or 200)
    folder = Path(tempfile.mkdtemp(prefix="rpa-bench-pdf-"))
    path = folder / "long.pdf"
    path.write_bytes(long_table_pdf(pages, rows=ROWS_PER_PAGE))
    rows: list[dict[str, Any]] = []
    _step(pdf.info, {"path": str(path)})  # imports and first-call costs out of the measurements
    __import__("pdfplumber"), __import__("pypdf")

    cpu, wall, ours = _cpu(lambda: _step(pdf.read_text, {"path": str(path)}))
    rows.append(_row("pdf.read_text (ours, pypdfium2)", "text", pages, cpu, wall))
    for name, fn in [
        ("pypdfium2 direct", _pdfium_text),
        ("pypdf direct", _pypdf_text),
        ("pdfplumber direct", _plumber_text),
    ]:
        cpu, wall, _ = _cpu(lambda fn=fn: fn(path))  # type: ignore[misc]
        rows.append(_row(name, "text", pages, cpu, wall))

    cpu, wall, plumber = _cpu(lambda: _plumber_tables(path))
    rows.append(_row("pdfplumber direct", "tables", pages, cpu, wall, tables=len(plumber)))
    expected = [as_table(cells, True)[1] for cells in plumber]
    cpu, wall, ours = _cpu(lambda: _step(pdf.read_tables, {"path": str(path), "workers": 1}))
    same = [t["rows"] for t in ours["tables"]] == expected
    rows.append(_row("pdf.read_tables (ours, 1 process)", "tables", pages, cpu, wall, same_result=same))
    workers = os.cpu_count() or 1
    # The forkserver starts (and imports pdfplumber) once per agent process: measured warm.
    _step(pdf.read_tables, {"path": str(path), "pages": "1-2", "workers": 2})
    with ChildrenCpu() as children:
        cpu, wall, pooled = _cpu(lambda: _step(pdf.read_tables, {"path": str(path), "workers": workers}))
    same = [t["rows"] for t in pooled["tables"]] == expected
    name = f"pdf.read_tables (ours, {workers} processes)"
    rows.append(_row(name, "tables-pool", pages, cpu + children.total, wall, same_result=same))

    by = {(r["name"], r["what"]): r for r in rows}
    text_ratio = (
        by[("pdf.read_text (ours, pypdfium2)", "text")]["pages_per_s"]
        / by[("pdfplumber direct", "text")]["pages_per_s"]
    )
    table_ratio = by[("pdf.read_tables (ours, 1 process)", "tables")]["cpu_s"] / max(
        by[("pdfplumber direct", "tables")]["cpu_s"], 1e-9
    )
    pool_speedup = by[("pdf.read_tables (ours, 1 process)", "tables")]["wall_s"] / max(rows[-1]["wall_s"], 1e-9)
    rows.append(
        {
            "name": "summary",
            "what": "ratios",
            "pages": pages,
            "text_vs_pdfplumber": round(text_ratio, 1),
            "text_target": TARGET_TEXT_RATIO,
            "tables_time_vs_pdfplumber": round(table_ratio, 3),
            "tables_target": TARGET_TABLE_RATIO,
            "pool_wall_speedup": round(pool_speedup, 2),
            "workers": workers,
        }
    )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """The rows as a Markdown table, then the ratios."""
    print("| library / step | task | pages | CPU s | wall s | pages/s | same result |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["name"] == "summary":
            continue
        same = {True: "yes", False: "NO"}.get(r.get("same_result"), "")
        print(
            f"| {r['name']} | {r['what']} | {r['pages']} | {r['cpu_s']} | {r['wall_s']} | {r['pages_per_s']} | {same} |"
        )
    s = rows[-1]
    print(
        f"\ntext: ours {s['text_vs_pdfplumber']}x pdfplumber (target >= {s['text_target']}x); "
        f"tables: ours {s['tables_time_vs_pdfplumber']}x pdfplumber's CPU time (target <= {s['tables_target']}x); "
        f"pool of {s['workers']}: {s['pool_wall_speedup']}x faster wall time than 1 process"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark (shared with bench/data_steps.py)."""
    parser.add_argument("--pages", type=int, default=200, help="PDF: pages of the generated document")
    parser.add_argument("--quick", action="store_true", help="PDF: 50 pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    rows = run(args)
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()

"""Tables of a PDF as table values (pdfplumber), spread over a process pool for long documents.

pdfplumber is pure Python and holds the GIL, so threads would not help: a long document is cut
into contiguous page ranges read by worker processes (`forkserver` on Linux, so no thread of the
agent is forked), and the results are put back in page order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from agent.steps._storage_io import storage_credential_field, storage_path
from agent.steps.pdf._documents import PagesParams, existing, open_plumber, resolve_password, select_pages
from agent.steps.pdf._errors import damaged_error, map_pdf_errors
from shared.errors import StepError
from shared.steps import context, step

POOL_MIN_SECONDS = 2.0
"""Left-over work (estimated from the first pages) worth starting worker processes for."""
PROBE_PAGES = 4
"""Pages read in the step's own thread before deciding whether a pool is worth it."""

_SETTINGS = {
    "vertical_strategy", "horizontal_strategy", "explicit_vertical_lines", "explicit_horizontal_lines",
    "snap_tolerance", "snap_x_tolerance", "snap_y_tolerance", "join_tolerance", "join_x_tolerance",
    "join_y_tolerance", "edge_min_length", "edge_min_length_prefilter", "min_words_vertical",
    "min_words_horizontal", "intersection_tolerance", "intersection_x_tolerance", "intersection_y_tolerance",
    "text_settings",
}  # fmt: skip
_STRATEGY_NAMES = {"lines", "lines_strict", "text", "explicit"}
_STRATEGIES = {
    "ruled": {"vertical_strategy": "lines", "horizontal_strategy": "lines"},
    "unruled": {"vertical_strategy": "text", "horizontal_strategy": "text"},
}

RawTable = tuple[int, int, list[list[str | None]]]
"""(page, index on the page, rows of cells) as pdfplumber finds them."""


class ReadTablesParams(PagesParams):
    storage_credential: str | None = storage_credential_field()
    strategy: Literal["ruled", "unruled"] = Field(
        default="ruled",
        description="'ruled': cells drawn with lines; 'unruled': columns found from the text alignment.",
    )
    table_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="pdfplumber table settings overriding the strategy's (e.g. snap_tolerance, "
        "min_words_vertical, explicit_vertical_lines, text_x_tolerance).",
    )
    header: bool = Field(default=True, description="The first row of each table names its columns.")
    merge: bool = Field(
        default=False,
        description="Also return `rows`: the rows of every table with the same columns as the first one, "
        "in page order (a table running over many pages).",
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Processes reading pages at once; empty = decided from the time the first pages take: "
        f"one per CPU core when the rest would take over {POOL_MIN_SECONDS:g} s, else 1.",
    )

    @field_validator("table_settings")
    @classmethod
    def _known_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(k for k in value if k not in _SETTINGS and not k.startswith("text_"))
        if unknown:
            raise ValueError(f"unknown table setting(s) {unknown}; known: {sorted(_SETTINGS)} and text_*")
        for key in ("vertical_strategy", "horizontal_strategy"):
            if key in value and value[key] not in _STRATEGY_NAMES:
                raise ValueError(f"{key} must be one of {sorted(_STRATEGY_NAMES)}, not {value[key]!r}")
            lines = f"explicit_{key.split('_')[0]}_lines"
            if value.get(key) == "explicit" and not value.get(lines):
                raise ValueError(f"{key} 'explicit' needs the positions in {lines}")
        return value


def _page_tables(page: Any, number: int, settings: dict[str, Any]) -> list[RawTable]:
    found = [(number, index, table) for index, table in enumerate(page.extract_tables(settings))]
    page.close()  # frees the page's cached objects: memory stays flat over long documents
    return found


class PageFailed(Exception):
    """A worker could not read a page: carries the page number back across the process boundary."""

    def __init__(self, page: int, reason: str) -> None:
        super().__init__(page, reason)
        self.page = page
        self.reason = reason


def extract_range(path: str, password: str | None, pages: list[int], settings: dict[str, Any]) -> list[RawTable]:
    """The tables of some pages (run in a worker process)."""
    import pdfplumber

    found: list[RawTable] = []
    with pdfplumber.open(path, password=password or "") as doc:
        for number in pages:
            try:
                found.extend(_page_tables(doc.pages[number - 1], number, settings))
            except Exception as exc:  # the library's exception may not survive pickling: send its words
                raise PageFailed(number, f"{type(exc).__name__}: {exc}"[:300]) from None
    return found


def as_table(rows: list[list[str | None]], header: bool) -> tuple[list[str], list[dict[str, Any]]]:
    """Rows of cells as a table value: column names and a list of objects; blank rows are dropped."""
    rows = [r for r in rows if any((cell or "").strip() for cell in r)]  # spacing lines of unruled tables
    if not rows:
        return [], []
    width = max(len(r) for r in rows)
    if header:
        names: list[str] = []
        for i, cell in enumerate(rows[0] + [None] * (width - len(rows[0]))):
            name = " ".join((cell or "").split()) or f"column_{i + 1}"
            base, n = name, 1
            while name in names:
                n += 1
                name = f"{base}_{n}"
            names.append(name)
        body = rows[1:]
    else:
        names = [f"column_{i + 1}" for i in range(width)]
        body = rows
    return names, [dict(zip(names, r + [None] * (width - len(r)), strict=True)) for r in body]


def _pool_context() -> Any:
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # Workers fork from a server that has imported pdfplumber once, so they start in milliseconds.
    ctx.set_forkserver_preload(["pdfplumber", "agent.steps.pdf._tables"])
    return ctx


def _chunks(pages: list[int], parts: int) -> list[list[int]]:
    size = max(1, -(-len(pages) // parts))
    return [pages[i : i + size] for i in range(0, len(pages), size)]


def _in_pool(
    path: Path, password: str | None, pages: list[int], settings: dict[str, Any], workers: int
) -> list[RawTable]:
    ctx = context()
    chunks = _chunks(pages, workers * 2)  # two ranges per worker even out slow pages
    results: dict[int, list[RawTable]] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        futures: dict[Future[list[RawTable]], int] = {
            pool.submit(extract_range, str(path), password, chunk, settings): i for i, chunk in enumerate(chunks)
        }
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    index = futures[future]
                    try:
                        with map_pdf_errors(path, chunks[index][0]):
                            results[index] = future.result()
                    except PageFailed as failed:
                        raise damaged_error(path, failed.page, failed.reason) from None
                ctx.raise_if_cancelled()
        except BrokenProcessPool:
            raise StepError(
                f"a worker process reading the tables of '{path.name}' stopped unexpectedly (out of memory?); "
                "retry, or set `workers` to 1",
                kind="pdf_workers",
                retryable=True,
            ) from None
        finally:
            for future in pending:
                future.cancel()
    return [table for i in range(len(chunks)) for table in results[i]]


def _serial(doc: Any, path: Path, pages: list[int], settings: dict[str, Any]) -> list[RawTable]:
    found: list[RawTable] = []
    ctx = context()
    for number in pages:
        ctx.raise_if_cancelled()
        with map_pdf_errors(path, number):
            found.extend(_page_tables(doc.pages[number - 1], number, settings))
    return found


def _auto(doc: Any, path: Path, password: str | None, pages: list[int], settings: dict[str, Any]) -> list[RawTable]:
    """Read the first pages here; hand the rest to a pool when it would take long enough."""
    started = time.perf_counter()
    probe = pages[:PROBE_PAGES]
    found = _serial(doc, path, probe, settings)
    rest = pages[len(probe) :]
    per_page = (time.perf_counter() - started) / max(len(probe), 1)
    cores = os.cpu_count() or 1
    if cores > 1 and per_page * len(rest) >= POOL_MIN_SECONDS:
        workers = max(1, min(cores, len(rest) // PROBE_PAGES))
        return found + _in_pool(path, password, rest, settings, workers)
    return found + _serial(doc, path, rest, settings)


@step(
    "pdf.read_tables",
    params=ReadTablesParams,
    output="{tables: [{page, index, columns, rows}], rows}: each table found, its rows as a table value "
    "(list of objects); `rows` is the merged table when `merge` is set, else null.",
    effects=False,
)
@storage_path("read")
def read_tables(params: ReadTablesParams) -> dict[str, Any]:
    """Read the tables of a PDF as tables (pdfplumber; ruled or unruled).

    Long documents are read by several processes at once (`workers`); the result is the same
    and in page order. Cells are text as printed (convert numbers with `data.convert`).

    Example node:
        {"id": "lines", "type": "pdf.read_tables",
         "params": {"path": "invoice.pdf", "strategy": "ruled", "merge": true}}
    """
    path = existing(params.path)
    password = resolve_password(params.password)
    settings = {**_STRATEGIES[params.strategy], **params.table_settings}
    with open_plumber(path, params.password, password) as doc:
        pages = select_pages(params.pages, len(doc.pages), path)
        with map_pdf_errors(path, credential=params.password):
            if params.workers is None:
                raw = _auto(doc, path, password, pages, settings)
            elif params.workers > 1 and len(pages) > 1:
                raw = _in_pool(path, password, pages, settings, min(params.workers, len(pages)))
            else:
                raw = _serial(doc, path, pages, settings)
    tables: list[dict[str, Any]] = []
    for number, index, cells in raw:
        columns, rows = as_table(cells, params.header)
        tables.append({"page": number, "index": index, "columns": columns, "rows": rows})
    merged: list[dict[str, Any]] | None = None
    if params.merge:
        first = tables[0]["columns"] if tables else []
        merged = [row for t in tables if t["columns"] == first for row in t["rows"]]
    return {"tables": tables, "rows": merged}

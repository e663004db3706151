"""Writing tables to CSV (stdlib), Excel (openpyxl) and PDF (Qt's own PDF writer).

openpyxl and PySide6 are imported inside the writers: the reports' tables are built without
them, and a missing one is a clear error naming the extra to install.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.reports._tables import Table

FORMATS = ("csv", "xlsx", "pdf")


class ReportError(Exception):
    """A report could not be written (unknown format, missing library, unwritable file)."""


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "table"


def write_csv(tables: Sequence[Table], path: Path) -> list[Path]:
    """One CSV file per table (header row first): `path` itself for one table, else
    `<stem>-<table title>.csv` beside it. Returns the files written."""
    if len(tables) == 1:
        targets = [path]
    else:
        targets = [path.with_name(f"{path.stem}-{_slug(t.title)}{path.suffix or '.csv'}") for t in tables]
    for table, target in zip(tables, targets, strict=True):
        with target.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(table.columns)
            writer.writerows(["" if cell is None else cell for cell in row] for row in table.rows)
    return targets


def write_xlsx(tables: Sequence[Table], path: Path) -> list[Path]:
    """One sheet per table in one workbook, a bold header row, numbers kept as numbers."""
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Font
    except ImportError:
        raise ReportError("Excel reports need openpyxl: install the `studio` extra") from None
    book = Workbook(write_only=True)
    used: set[str] = set()
    for table in tables:
        name = _sheet_name(table.title, used)
        sheet = book.create_sheet(name)
        header = []
        for column in table.columns:
            cell: Any = _write_only_cell(sheet, column)
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for row in table.rows:
            sheet.append(list(row))
    book.save(path)
    return [path]


def _write_only_cell(sheet: Any, value: str) -> Any:
    from openpyxl.cell import WriteOnlyCell

    return WriteOnlyCell(sheet, value=value)


def _sheet_name(title: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ and unique in the workbook.
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:31] or "Sheet"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def tables_html(tables: Sequence[Table], title: str) -> str:
    """The tables as simple HTML (what the PDF prints)."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for table in tables:
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        parts.append('<table border="1" cellspacing="0" cellpadding="3" width="100%">')
        parts.append("<tr>" + "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns) + "</tr>")
        for row in table.rows:
            cells = "".join(f"<td>{'' if c is None else html.escape(str(c))}</td>" for c in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    return "\n".join(parts)


def write_pdf(tables: Sequence[Table], path: Path, *, title: str = "Report") -> list[Path]:
    """A PDF of the tables (A4 landscape) printed by Qt from HTML: no extra dependency."""
    try:
        from PySide6.QtCore import QMarginsF, QSizeF
        from PySide6.QtGui import QGuiApplication, QPageLayout, QPageSize, QPdfWriter, QTextDocument
    except ImportError:
        raise ReportError("PDF reports need PySide6: install the `studio` extra") from None
    if QGuiApplication.instance() is None:
        raise ReportError("PDF reports need a running Qt application (the studio)")
    writer = QPdfWriter(str(path))
    writer.setTitle(title)
    writer.setPageLayout(
        QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Landscape, QMarginsF(12, 12, 12, 12))
    )
    writer.setResolution(96)
    document = QTextDocument()
    document.setHtml(tables_html(tables, title))
    layout = writer.pageLayout().paintRectPixels(writer.resolution())
    document.setPageSize(QSizeF(layout.width(), layout.height()))
    document.print_(writer)
    del writer  # the file is complete once the writer is gone
    if not path.exists() or path.stat().st_size == 0:
        raise ReportError(f"the PDF could not be written to {path}")
    return [path]


def export_report(tables: Sequence[Table], path: Path, *, title: str = "Report") -> list[Path]:
    """Write `tables` in the format the file name says (`.csv`, `.xlsx` or `.pdf`)."""
    kind = path.suffix.lower().lstrip(".")
    try:
        if kind == "csv":
            return write_csv(tables, path)
        if kind == "xlsx":
            return write_xlsx(tables, path)
        if kind == "pdf":
            return write_pdf(tables, path, title=title)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
    raise ReportError(f"unknown report format {path.suffix!r} of {path.name}: use one of {', '.join(FORMATS)}")

"""Opening and saving workbooks with openpyxl (for the steps that change a file).

Saves go to a temporary file next to the target, then replace it: a failure half-way never
leaves a truncated workbook behind. `.xlsm` files keep their macros.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.errors import BusinessError

from ._common import EXCEL_SUFFIXES, local_path, map_excel_errors, no_sheet, openpyxl

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")


def writable_path(value: str) -> Path:
    """The workbook a step may change: a local `.xlsx`/`.xlsm` path (it need not exist yet)."""
    path = local_path(value, must_exist=False)
    if path.suffix.lower() not in EXCEL_SUFFIXES:
        raise BusinessError(
            f"{path.name}: workbooks are written as .xlsx or .xlsm ({path.suffix or 'no extension'} is read-only)",
            kind="validation",
        )
    return path


def from_iso(value: Any) -> Any:
    """ISO 8601 date / datetime text (the table form of dates) back to a date for Excel."""
    if isinstance(value, str) and 10 <= len(value) <= 26:
        if _ISO_DATE.match(value):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value
        if _ISO_DATETIME.match(value):
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                return value
    return value


def load(path: Path) -> Any:
    """Open `path` for changes (it must exist)."""
    if not path.is_file():
        raise BusinessError(f"{path} does not exist", kind="file_not_found", details={"path": str(path)})
    return openpyxl().load_workbook(path, keep_vba=path.suffix.lower() == ".xlsm")


def save(book: Any, path: Path) -> None:
    """Save atomically: a temporary file in the same folder, then a rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".~", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        book.save(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def editing(path_text: str) -> Iterator[Any]:
    """Open a workbook, yield it, and save it if the block succeeds; errors are translated."""
    path = writable_path(path_text)
    with map_excel_errors(path):
        book = load(path)
        yield book
        save(book, path)


def worksheet(book: Any, path_text: str, name: str | None) -> Any:
    """The sheet `name` (the first when None), or an error listing the sheets there are."""
    if name is None:
        return book.worksheets[0]
    if name not in book.sheetnames:
        raise no_sheet(Path(path_text), name, book.sheetnames)
    return book[name]

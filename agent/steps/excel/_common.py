"""What every `excel.*` and `csv.*` step shares: the path helper, the library imports and the
one boundary where openpyxl, python-calamine and file-system errors become step errors."""

from __future__ import annotations

import gc
import itertools
import threading
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.errors import BusinessError, MissingDependency, StepError
from shared.steps import context

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm")
"""Files openpyxl opens (and the streaming reader parses); `.xls`/`.xlsb`/`.ods` are read-only via calamine."""

_CANCEL_EVERY = 5_000


class Params(BaseModel):
    """Base of the params models: unknown keys are an error, so a typo is caught by `rpa validate`.

    Every `excel.*` / `csv.*` step works on one file, whose `path` may be a storage URL (with
    `storage_credential` after it): the step then runs on a local copy
    (`agent.steps._storage_io.storage_path`).
    """

    model_config = ConfigDict(extra="forbid")


def local_path(value: str, *, must_exist: bool = True) -> Path:
    """The local file a step works on; the one place a path param is interpreted.

    Storage URLs (``s3://...``) never get here: `storage_path` gives the step a local copy.

    Raises:
        BusinessError: a file that does not exist when `must_exist`.
    """
    path = Path(value).expanduser()
    if must_exist and not path.is_file():
        where = "is a folder" if path.is_dir() else "does not exist"
        raise BusinessError(f"{path} {where}", kind="file_not_found", details={"path": str(path)})
    return path


def openpyxl() -> Any:
    """The openpyxl module, or a `MissingDependency` naming the `office` extra."""
    try:
        import openpyxl as module
    except ImportError:
        raise MissingDependency("openpyxl", extra="office") from None
    return module


def calamine() -> Any:
    """The python_calamine module, or a `MissingDependency` naming the `office` extra."""
    try:
        import python_calamine as module
    except ImportError:
        raise MissingDependency("python-calamine", extra="office") from None
    return module


def no_sheet(path: Path, sheet: str, names: Sequence[str]) -> BusinessError:
    """The error for a sheet name that is not in the workbook: it lists the sheets there are."""
    return BusinessError(
        f"{path.name} has no sheet '{sheet}'; its sheets are: {', '.join(repr(n) for n in names)}",
        kind="sheet_not_found",
        details={"path": str(path), "sheet": sheet, "sheets": list(names)},
    )


def _corrupt(path: Path, reason: str) -> BusinessError:
    return BusinessError(
        f"{path} is not a readable workbook ({reason})", kind="corrupt_file", details={"path": str(path)}
    )


def _translate(path: Path, err: Exception) -> StepError | None:
    """The step error for a foreign exception, or None to let it through."""
    if isinstance(err, FileNotFoundError):
        return BusinessError(f"{path} does not exist", kind="file_not_found", details={"path": str(path)})
    if isinstance(err, PermissionError):
        # Often the file is open in Excel on Windows: retrying later may help.
        return StepError(
            f"{path} cannot be opened: permission denied (is it open in another program?)",
            kind="file_locked",
            retryable=True,
            details={"path": str(path)},
        )
    if isinstance(err, zipfile.BadZipFile | EOFError):
        return _corrupt(path, "not a valid zip container")
    module = type(err).__module__ or ""
    if module.startswith("python_calamine"):
        if type(err).__name__ == "WorksheetNotFound":
            return None  # callers check sheet names first; this is a bug if reached
        return _corrupt(path, f"{type(err).__name__}: {err}")
    if module.startswith(("openpyxl", "lxml", "xml")):
        return _corrupt(path, f"{type(err).__name__}: {err}")
    if isinstance(err, KeyError) and "archive" in str(err):
        return _corrupt(path, f"a part is missing: {err}")
    if isinstance(err, OSError):
        return StepError(f"{path}: {err.strerror or err}", kind="io", retryable=True, details={"path": str(path)})
    return None


@contextmanager
def map_excel_errors(path: Path) -> Iterator[None]:
    """Translate openpyxl, python-calamine, zip and OS errors about `path` into step errors.

    Our own `StepError`s pass unchanged; anything not recognised passes too (a bug to fix).
    """
    try:
        yield
    except StepError:
        raise
    except Exception as err:
        translated = _translate(path, err)
        if translated is None:
            raise
        raise translated from None


def collect(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Read rows into a list inside a step, stopping with `StepCancelled` when the execution is
    cancelled (checked every few thousand rows, so a long read does not hold a cancel up)."""
    ctx = context()
    table: list[dict[str, Any]] = []
    source = iter(rows)
    with paused_gc():
        while True:
            ctx.raise_if_cancelled()
            size = len(table)
            table.extend(itertools.islice(source, _CANCEL_EVERY))
            if len(table) - size < _CANCEL_EVERY:
                return table


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a table is built, back as it was after.

    A table is a few hundred thousand new dicts and lists and no cycles: every 700 of them the
    collector ran and walked the young ones again, about a tenth of a read's CPU time. Nested
    and concurrent pauses (reads in several worker threads) count, so the last one to end
    turns it back on, and only if it was on before the first.
    """
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def normalise_header(values: Sequence[Any]) -> list[str]:
    """Column names from a header row: text as is (stripped), empty cells `column_<n>` (1-based),
    repeated names suffixed `_2`, `_3`... so every row dict keeps every cell."""
    names: list[str] = []
    seen: set[str] = set()
    for position, value in enumerate(values, start=1):
        text = "" if value is None else str(value).strip()
        base = text or f"column_{position}"
        name, count = base, 1
        while name in seen:
            count += 1
            name = f"{base}_{count}"
        seen.add(name)
        names.append(name)
    return names

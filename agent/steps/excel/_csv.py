"""`csv.read` and `csv.write`, with the dialect and encoding detected, rows streamed.

Encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); otherwise the file is UTF-8 if it
all decodes as UTF-8 (checked in chunks, never loaded whole), else cp1252 (what Excel writes on
Western-European Windows), else Latin-1, which decodes anything. Dialect: `csv.Sniffer` on the
first 64 KiB, among `,` `;` tab and `|`; plain comma-separated when it cannot tell.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.steps._storage_io import storage_credential_field, storage_path
from shared.errors import BusinessError, StepError
from shared.steps import step
from shared.tables import RowStream, Table, rows_of, to_cell

from ._common import Params, collect, local_path
from ._shape import CellRange, to_table

_SAMPLE = 64 * 1024
_CHUNK = 1024 * 1024
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NUMBER = re.compile(r"^-?(?:0|[1-9][0-9]*)(?:(\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)$")


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """The encoding of a text file: BOM, else UTF-8 if valid, else cp1252, else Latin-1."""
    with path.open("rb") as file:
        head = file.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    for encoding in ("utf-8", "cp1252"):
        if _decodes(path, encoding):
            return encoding
    return "latin-1"


def detect_dialect(sample: str, delimiter: str | None) -> type[csv.Dialect] | csv.Dialect:
    """The dialect of `sample`; `delimiter` when given wins over the sniffer."""
    if delimiter:

        class Given(csv.excel):
            pass

        Given.delimiter = delimiter
        return Given
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _typed(value: str) -> Any:
    if value == "":
        return None
    if _NUMBER.match(value):
        number = float(value)
        return int(value) if "." not in value and "e" not in value.lower() else number
    return value


def read_csv_rows(
    path: str | Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool = True,
    infer_types: bool = True,
    offset: int = 0,
    limit: int | None = None,
) -> RowStream:
    """A CSV file as a `RowStream` (read lazily; close it or read to the end)."""
    file = local_path(str(path))
    chosen = encoding or detect_encoding(file)
    try:
        handle = file.open("r", encoding=chosen, newline="")
    except LookupError:
        raise BusinessError(f"unknown encoding '{chosen}'", kind="validation") from None
    try:
        dialect = detect_dialect(handle.read(_SAMPLE), delimiter)
        handle.seek(0)
    except UnicodeDecodeError as err:
        handle.close()
        raise BusinessError(f"{file} is not {chosen} text: {err.reason} at byte {err.start}", kind="data") from None
    cells = _cells(file, csv.reader(handle, dialect), infer_types)
    return to_table(
        cells, header=header, area=CellRange(), offset=offset, limit=limit, on_close=handle.close, leading=True
    )


def _cells(path: Path, reader: Any, infer_types: bool) -> Iterator[tuple[int, list[Any]]]:
    try:
        for index, record in enumerate(reader):
            yield index, [_typed(v) for v in record] if infer_types else [v or None for v in record]
    except csv.Error as err:
        raise BusinessError(f"{path}: line {reader.line_num}: {err}", kind="data") from None
    except UnicodeDecodeError as err:
        raise BusinessError(f"{path} is not valid text in its encoding: {err.reason}", kind="data") from None
    except OSError as err:
        raise StepError(f"{path}: {err.strerror or err}", kind="io", retryable=True) from None


class CsvReadParams(Params):
    path: str = Field(min_length=1, description="The CSV file: a local path or a storage URL (s3://, sftp://, ...).")
    storage_credential: str | None = storage_credential_field()
    delimiter: str | None = Field(
        default=None, min_length=1, max_length=1, description="Field separator; empty to detect (, ; tab |)."
    )
    encoding: str | None = Field(
        default=None, description="Text encoding, e.g. 'utf-8', 'cp1252'; empty to detect (BOM, UTF-8, cp1252)."
    )
    header: bool = Field(default=True, description="The first row names the columns.")
    infer_types: bool = Field(
        default=True,
        description="Turn numeric text into numbers ('007' stays text) and empty fields into null.",
    )
    offset: int = Field(default=0, ge=0, description="Data rows to skip.")
    limit: int | None = Field(default=None, ge=0, description="At most this many data rows.")


@step("csv.read", params=CsvReadParams, output="The rows as a table (list of objects).", effects=False)
@storage_path("read")
def csv_read(params: CsvReadParams) -> Table:
    """Read a CSV file as a table, detecting its delimiter and encoding.

    Example node: `{"type": "csv.read", "params": {"path": "in/orders.csv"}}`.
    """
    with read_csv_rows(
        params.path,
        delimiter=params.delimiter,
        encoding=params.encoding,
        header=params.header,
        infer_types=params.infer_types,
        offset=params.offset,
        limit=params.limit,
    ) as rows:
        return collect(rows)


class CsvWriteParams(Params):
    path: str = Field(min_length=1, description="The CSV file to write (folders are created): a path or a storage URL.")
    storage_credential: str | None = storage_credential_field()
    table: Any = Field(description="The rows to write: a table (list of objects).")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="Field separator.")
    encoding: str = Field(
        default="utf-8", description="Text encoding; 'utf-8-sig' adds the BOM Excel needs to open UTF-8 correctly."
    )
    mode: Literal["replace", "append"] = Field(
        default="replace", description="append: add rows at the end (the header only if the file is new or empty)."
    )
    header: bool = Field(default=True, description="Write the column names first.")


def write_csv_rows(params: CsvWriteParams, table: Any) -> int:
    """Write a table or `RowStream` as CSV; returns the number of data rows written."""
    file = local_path(params.path, must_exist=False)
    rows = rows_of(table, "csv.write: table")
    appending = params.mode == "append" and file.exists() and file.stat().st_size > 0
    file.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        with rows, file.open("a" if appending else "w", encoding=params.encoding, newline="") as out:
            writer = csv.writer(out, delimiter=params.delimiter, lineterminator="\r\n")
            names = list(rows.columns)
            if params.header and not appending:
                writer.writerow(names)
            for row in rows:
                writer.writerow(["" if (v := to_cell(row.get(n))) is None else v for n in names])
                count += 1
    except LookupError:
        raise BusinessError(f"unknown encoding '{params.encoding}'", kind="validation") from None
    except UnicodeEncodeError as err:
        raise BusinessError(
            f"{file}: row {count + 1} has text that {params.encoding} cannot hold "
            f"({err.object[err.start : err.end]!r})",
            kind="data",
        ) from None
    return count


def _csv_mode(params: CsvWriteParams) -> Literal["write", "create"]:
    """Appending changes the stored file (fetched first); replacing writes it from scratch."""
    return "write" if params.mode == "append" else "create"


@step("csv.write", params=CsvWriteParams, output="{path, rows}: the file written and the number of data rows.")
@storage_path(_csv_mode)
def csv_write(params: CsvWriteParams) -> dict[str, Any]:
    """Write a table to a CSV file.

    Example node: `{"type": "csv.write", "params": {"path": "out/orders.csv", "table": "{{ steps.read.output }}"}}`.
    """
    count = write_csv_rows(params, params.table)
    return {"path": str(local_path(params.path, must_exist=False)), "rows": count}

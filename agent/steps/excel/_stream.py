"""A streaming reader of `.xlsx`/`.xlsm` sheets: memory flat in the number of rows.

python-calamine is the fast path but holds a whole sheet in memory; openpyxl's `read_only` mode
streams but builds a cell object per value. This reader feeds the sheet XML to expat (the
standard library's parser) in 64 KiB chunks and keeps only the rows completed by the last
chunk, plus the shared strings table and the styles needed to tell dates from numbers. Cells
come out already in table form (ISO dates, whole numbers as ints). `bench/data_steps.py`
compares it with openpyxl `read_only` and lxml's `iterparse`, both slower here.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree
from xml.parsers import expat

from ._common import no_sheet

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"

# Built-in number formats that show dates or times (ECMA-376 part 1, 18.8.30).
_DATE_FORMAT_IDS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_QUOTED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_EPOCH_1900 = dt.datetime(1899, 12, 30)
_EPOCH_1904 = dt.datetime(1904, 1, 1)


def _is_date_format(code: str) -> bool:
    plain = _QUOTED.sub("", code).lower()
    return any(token in plain for token in ("d", "m", "y", "h", "s")) and "general" not in plain


def _parse(archive: zipfile.ZipFile, name: str) -> Any:
    with archive.open(name) as part:
        return ElementTree.parse(part).getroot()


class SheetXml:
    """An open `.xlsx` file: sheet names, shared strings and date styles, read once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive = zipfile.ZipFile(path)
        try:
            self._sheets, self.date1904 = self._workbook()
            self.strings = self._shared_strings()
            self.date_styles = self._date_styles()
        except BaseException:
            self.archive.close()
            raise

    @property
    def sheet_names(self) -> list[str]:
        """The sheets in workbook order."""
        return list(self._sheets)

    def _workbook(self) -> tuple[dict[str, str], bool]:
        book = _parse(self.archive, "xl/workbook.xml")
        rels = _parse(self.archive, "xl/_rels/workbook.xml.rels")
        targets = {rel.get("Id"): rel.get("Target") for rel in rels.iter(f"{_PKG_REL}Relationship")}
        sheets = {}
        for sheet in book.iter(f"{_MAIN}sheet"):
            target = targets[sheet.get(f"{_REL}id")]
            sheets[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        props = book.find(f"{_MAIN}workbookPr")
        date1904 = props is not None and props.get("date1904") in ("1", "true")
        return sheets, date1904

    def _shared_strings(self) -> list[str]:
        if "xl/sharedStrings.xml" not in self.archive.namelist():
            return []
        collector = _Strings()
        with self.archive.open("xl/sharedStrings.xml") as part:
            _feed(collector.parser, part, lambda: None)
        return collector.strings

    def _date_styles(self) -> frozenset[int]:
        if "xl/styles.xml" not in self.archive.namelist():
            return frozenset()
        root = _parse(self.archive, "xl/styles.xml")
        custom = {int(f.get("numFmtId")): f.get("formatCode", "") for f in root.iter(f"{_MAIN}numFmt")}
        xfs = root.find(f"{_MAIN}cellXfs")
        dates = set()
        for index, xf in enumerate(xfs if xfs is not None else []):
            fmt = int(xf.get("numFmtId", "0"))
            if fmt in _DATE_FORMAT_IDS or (fmt in custom and _is_date_format(custom[fmt])):
                dates.add(index)
        return frozenset(dates)

    def rows(self, sheet: str | None) -> Iterator[tuple[int, list[Any]]]:
        """(0-based row index, cells) of each row of `sheet` (the first when None) that has cells."""
        name = sheet if sheet is not None else self.sheet_names[0]
        if name not in self._sheets:
            raise no_sheet(self.path, name, self.sheet_names)
        part = self.archive.open(self._sheets[name])
        try:
            yield from self._iter_rows(part)
        finally:
            part.close()

    def _iter_rows(self, part: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
        sheet = _SheetRows(self)
        done = sheet.rows
        for _ in _chunks(sheet.parser, part):
            yield from done
            done.clear()
        yield from done

    def value(self, kind: str, style: str | None, text: str) -> Any:
        """A cell in table form from its type (`t`), style index (`s`) and text."""
        if kind == "n":
            if not text:
                return None
            number = float(text)
            if style is not None and int(style) in self.date_styles:
                return self._date(number).isoformat()
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        if kind == "s":
            return self.strings[int(text)] if text else None
        if kind == "b":
            return text == "1" if text else None
        return text or None

    def _date(self, serial: float) -> dt.date | dt.datetime | dt.time:
        # Excel stores milliseconds at most; rounding undoes the float error of the serial.
        offset = dt.timedelta(milliseconds=round(serial * 86_400_000))
        if 0 <= serial < 1 and not self.date1904:
            return (dt.datetime.min + offset).time()
        moment = (_EPOCH_1904 if self.date1904 else _EPOCH_1900) + offset
        return moment.date() if serial.is_integer() else moment

    def close(self) -> None:
        """Close the file."""
        self.archive.close()


_CHUNK = 64 * 1024
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main "
_ROW, _C, _V, _T, _IS, _SI = (_NS + name for name in ("row", "c", "v", "t", "is", "si"))
_COLUMNS: dict[str, int] = {}


def _column(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    index = _COLUMNS.get(letters)
    if index is None:
        index = 0
        for char in letters.upper():
            index = index * 26 + (ord(char) - 64)
        index -= 1
        _COLUMNS[letters] = index
    return index


def _new_parser() -> Any:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    return parser


def _chunks(parser: Any, part: IO[bytes]) -> Iterator[None]:
    """Feed `part` to `parser` chunk by chunk, pausing after each so the caller can drain rows."""
    while chunk := part.read(_CHUNK):
        parser.Parse(chunk, False)
        yield
    parser.Parse(b"", True)


def _feed(parser: Any, part: IO[bytes], drain: Any) -> None:
    for _ in _chunks(parser, part):
        drain()


class _Strings:
    """Collects the shared strings table (`<si>` items, rich-text runs joined)."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self._parts: list[str] = []
        self._collect = False
        self.parser = _new_parser()
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text

    def _start(self, name: str, _attrs: dict[str, str]) -> None:
        if name == _T:
            self._collect = True
        elif name == _SI:
            self._parts = []

    def _end(self, name: str) -> None:
        if name == _T:
            self._collect = False
        elif name == _SI:
            self.strings.append("".join(self._parts))

    def _text(self, data: str) -> None:
        if self._collect:
            self._parts.append(data)


class _SheetRows:
    """Expat handlers that turn `<row>` elements into (row index, cells), appended to `rows`."""

    def __init__(self, book: SheetXml) -> None:
        self.book = book
        self.rows: list[tuple[int, list[Any]]] = []
        self._cells: list[Any] = []
        self._index = 0
        self._next = 0
        self._kind = "n"
        self._style: str | None = None
        self._parts: list[str] = []
        self._collect = False
        self.parser = _new_parser()
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        if name == _C:
            ref = attrs.get("r")
            if ref:
                column = _column(ref)
                if column > len(self._cells):
                    self._cells.extend([None] * (column - len(self._cells)))
            self._kind = attrs.get("t", "n")
            self._style = attrs.get("s")
            self._parts = []
        elif name in (_V, _T):
            self._collect = True
        elif name == _ROW:
            number = attrs.get("r")
            self._index = int(number) - 1 if number else self._next
            self._cells = []

    def _end(self, name: str) -> None:
        if name == _C:
            self._cells.append(self.book.value(self._kind, self._style, "".join(self._parts)))
        elif name in (_V, _T):
            self._collect = False
        elif name == _ROW:
            self.rows.append((self._index, self._cells))
            self._next = self._index + 1

    def _text(self, data: str) -> None:
        if self._collect:
            self._parts.append(data)

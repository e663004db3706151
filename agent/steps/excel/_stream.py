"""A streaming reader of `.xlsx`/`.xlsm` sheets: memory flat in the number of rows.

python-calamine is the fast path but holds a whole sheet in memory; openpyxl's `read_only` mode
streams but builds a cell object per value. This reader parses the sheet XML itself with lxml's
`iterparse`, keeping only the row being read (each parsed row is cleared and unlinked), plus
the shared strings table and the styles needed to tell dates from numbers. `bench/data_steps.py`
compares it with openpyxl `read_only`.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

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
    from lxml import etree

    with archive.open(name) as part:
        return etree.parse(part).getroot()


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
        root = _parse(self.archive, "xl/sharedStrings.xml")
        return ["".join(t.text or "" for t in si.iter(f"{_MAIN}t")) for si in root.iter(f"{_MAIN}si")]

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
        from lxml import etree

        expected = 0
        for _event, row in etree.iterparse(part, events=("end",), tag=f"{_MAIN}row"):
            number = row.get("r")
            index = int(number) - 1 if number else expected
            expected = index + 1
            yield index, self._cells(row)
            # Free what was parsed: the row's children, then the rows before it.
            row.clear()
            parent = row.getparent()
            while row.getprevious() is not None:
                del parent[0]

    def _cells(self, row: Any) -> list[Any]:
        cells: list[Any] = []
        for cell in row:
            ref = cell.get("r")
            if ref:
                column = _column(ref)
                if column > len(cells):
                    cells.extend([None] * (column - len(cells)))
            cells.append(self._value(cell))
        return cells

    def _value(self, cell: Any) -> Any:
        kind = cell.get("t", "n")
        if kind == "inlineStr":
            return "".join(t.text or "" for t in cell.iter(f"{_MAIN}t"))
        text = cell.findtext(f"{_MAIN}v")
        if not text:
            return None
        if kind == "s":
            return self.strings[int(text)]
        if kind == "b":
            return text == "1"
        if kind in ("str", "e"):
            return text
        number = float(text)
        style = cell.get("s")
        if style is not None and int(style) in self.date_styles:
            return self._date(number)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number

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


def _column(ref: str) -> int:
    index = 0
    for char in ref:
        if char.isdigit():
            break
        index = index * 26 + (ord(char) - 64)
    return index - 1

"""Placeholders in Word documents, filled on python-docx runs.

docxtpl is LGPL-2.1, so templates are filled here instead, on python-docx (MIT) alone. Word
splits text into runs at arbitrary places (spell checking, edits, formatting), so a placeholder
`{{ customer.name }}` may span several runs: the paragraph's text is matched as a whole, the
value goes into the run where the placeholder starts (keeping its formatting) and the rest of the
placeholder is cut from the runs after it.

A table row whose placeholders name a list, `{{ items.Qty }}` with `items` a table value, is
repeated once per row of that table.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_ -]*[A-Za-z0-9_])*)\s*\}\}")

Render = Callable[[str], str]


class MissingValue(LookupError):
    """A placeholder names a value that is not given."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def lookup(values: Mapping[str, Any], name: str) -> Any:
    """The value a dotted placeholder name points at; `MissingValue` when absent."""
    current: Any = values
    for part in name.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            raise MissingValue(name)
    return current


def as_text(value: Any) -> str:
    """How a value is written into the document."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def replace_in_paragraph(paragraph: Any, render: Render) -> None:
    """Replace every placeholder of one paragraph, whatever runs it spans."""
    runs = list(paragraph.runs)
    texts = [r.text for r in runs]
    full = "".join(texts)
    if "{{" not in full:
        return
    offsets = []
    position = 0
    for text in texts:
        offsets.append(position)
        position += len(text)

    lengths = [len(t) for t in texts]

    def run_at(index: int) -> int:
        return next(i for i, start in enumerate(offsets) if start <= index < start + lengths[i])

    changed: set[int] = set()
    # From the end, so the offsets of the placeholders before stay true.
    for match in reversed(list(PLACEHOLDER.finditer(full))):
        start, end = match.span()
        first, last = run_at(start), run_at(end - 1)
        value = render(match.group(1))
        if first == last:
            head = texts[first][: start - offsets[first]]
            tail = texts[first][end - offsets[first] :]
            texts[first] = head + value + tail
        else:
            texts[first] = texts[first][: start - offsets[first]] + value
            for middle in range(first + 1, last):
                texts[middle] = ""
            texts[last] = texts[last][end - offsets[last] :]
            changed.update(range(first + 1, last + 1))
        changed.add(first)
    for index in sorted(changed):
        runs[index].text = texts[index]


def _table_paragraphs(table: Any) -> Iterator[Any]:
    for row in table.rows:
        for cell in row.cells:
            yield from cell.paragraphs
            for inner in cell.tables:
                yield from _table_paragraphs(inner)


def all_tables(container: Any) -> Iterator[Any]:
    """Tables of a document or header/footer, nested ones included."""
    for table in container.tables:
        yield table
        for row in table.rows:
            for cell in row.cells:
                yield from all_tables(cell)


def all_paragraphs(document: Any) -> Iterator[Any]:
    """Every paragraph: body, tables (nested too), headers and footers."""
    parts = [document]
    for section in document.sections:
        parts.extend([section.header, section.footer, section.first_page_header, section.first_page_footer])
    seen: set[int] = set()
    for part in parts:
        key = id(part.part) if part is not document else 0
        if part is not document and (part.is_linked_to_previous or key in seen):
            continue
        seen.add(key)
        yield from part.paragraphs
        for table in part.tables:
            yield from _table_paragraphs(table)


def _row_list(row: Any, values: Mapping[str, Any]) -> str | None:
    """The name of the list a table row repeats over, or None for an ordinary row."""
    for cell in row.cells:
        for match in PLACEHOLDER.finditer(cell.text):
            head = match.group(1).split(".", 1)[0]
            if "." in match.group(1) and isinstance(values.get(head), list):
                return head
    return None


def repeat_rows(document: Any, values: Mapping[str, Any], render_with: Callable[[Mapping[str, Any]], Render]) -> int:
    """Repeat each table row that names a list once per item; returns the rows written."""
    written = 0
    for table in list(all_tables(document)):
        for row in list(table.rows):
            name = _row_list(row, values)
            if name is None:
                continue
            template = row._tr
            anchor = template
            for item in values[name]:
                clone = copy.deepcopy(template)
                anchor.addnext(clone)
                anchor = clone
                render = render_with({**values, name: item})
                for paragraph in _clone_paragraphs(table, clone):
                    replace_in_paragraph(paragraph, render)
                written += 1
            template.getparent().remove(template)
    return written


def _clone_paragraphs(table: Any, tr: Any) -> Iterator[Any]:
    from docx.table import _Row

    row = _Row(tr, table)
    for cell in row.cells:
        yield from cell.paragraphs

"""Opening documents with each library, page selections and the params every step shares.

The password of an encrypted document comes from a credential named in the step's params and
is read with `context().secret(name)`, so it is masked everywhere and never a param value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.steps._pdfium import PDFIUM_LOCK
from agent.steps.pdf._errors import encrypted_error, map_pdf_errors, need, page_out_of_range
from shared.errors import BusinessError
from shared.steps import CREDENTIAL_NAME, context

_SELECTION = re.compile(r"^\s*\d+\s*(-\s*\d*\s*)?(,\s*\d+\s*(-\s*\d*\s*)?)*$")


class Params(BaseModel):
    """Base of every params model of the family."""

    model_config = ConfigDict(extra="forbid")


class SourceParams(Params):
    """A PDF to read, and the credential that opens it when it is encrypted."""

    path: str = Field(min_length=1, description="The PDF file to read.")
    password: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default=None,
        description="Name of the credential holding the document's password (`NAME` or `NAME.field`); "
        "only for encrypted files.",
    )


def check_selection(value: str | None) -> str | None:
    """Validate a page selection such as `1-3,5,8-` (1-based, `-` open at the end)."""
    if value is None or value.strip().lower() in ("", "all"):
        return None
    if not _SELECTION.match(value):
        raise ValueError(f"'{value}' is not a page selection: use numbers and ranges like '1-3,5,8-'")
    if any(int(n) == 0 for n in re.findall(r"\d+", value)):
        raise ValueError("pages are numbered from 1")
    return value


class PagesParams(SourceParams):
    """A PDF and which of its pages to read."""

    pages: str | None = Field(
        default=None,
        description="Pages to read, 1-based: '1-3,5,8-' ('8-' = from 8 to the end); all when empty.",
    )

    @field_validator("pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        return check_selection(value)


def select_pages(selection: str | None, count: int, path: str | Path) -> list[int]:
    """The 1-based page numbers a selection names, in order, each checked against `count`."""
    if selection is None:
        return list(range(1, count + 1))
    pages: list[int] = []
    for part in selection.split(","):
        first, dash, last = part.strip().partition("-")
        start = int(first)
        end = (int(last) if last.strip() else count) if dash else start
        if start > count:
            raise page_out_of_range(path, start, count)
        if end > count:
            raise page_out_of_range(path, end, count)
        if end < start:
            raise BusinessError(f"the page range '{part.strip()}' runs backwards", kind="data")
        pages.extend(range(start, end + 1))
    return pages


def resolve_password(credential: str | None) -> str | None:
    """The password held by the named credential (masked from now on), or None."""
    return None if credential is None else context().secret(credential)


def existing(path: str) -> Path:
    """The path as a `Path`, with `~` expanded."""
    return Path(path).expanduser()


@contextmanager
def open_pdfium(path: Path, credential: str | None, password: str | None) -> Iterator[Any]:
    """A pypdfium2 document, closed on exit."""
    need("pypdfium2", "pypdfium2 (PDF text and rendering)")
    import pypdfium2 as pdfium

    # pdfium is not thread-safe: one document at a time in this process, whatever the family.
    with PDFIUM_LOCK:
        with map_pdf_errors(path, credential=credential):
            if not path.is_file():
                raise FileNotFoundError(path)
            doc = pdfium.PdfDocument(str(path), password=password)
        try:
            yield doc
        finally:
            doc.close()


@contextmanager
def open_plumber(path: Path, credential: str | None, password: str | None) -> Iterator[Any]:
    """A pdfplumber document, closed on exit."""
    need("pdfplumber", "pdfplumber (PDF tables, words and layout)")
    import pdfplumber

    with map_pdf_errors(path, credential=credential):
        if not path.is_file():
            raise FileNotFoundError(path)
        doc = pdfplumber.open(str(path), password=password or "")
        try:
            _ = doc.pages  # pdfminer reads the page tree (and checks the password) here
        except BaseException:
            doc.close()
            raise
    try:
        yield doc
    finally:
        doc.close()


def open_pypdf(path: Path, credential: str | None, password: str | None, *, decrypt: bool = True) -> Any:
    """A pypdf `PdfReader`, decrypted with the password when the file is encrypted."""
    need("pypdf", "pypdf (PDF forms and page operations)")
    from pypdf import PdfReader

    with map_pdf_errors(path, credential=credential):
        if not path.is_file():
            raise FileNotFoundError(path)
        reader = PdfReader(str(path))
        if reader.is_encrypted and decrypt:
            if password is None:
                raise encrypted_error(path, None)
            if not reader.decrypt(password):
                raise encrypted_error(path, credential)
        return reader


def output_path(path: str, overwrite: bool) -> Path:
    """Where to write, its folder created; refuses to replace a file unless `overwrite`."""
    target = Path(path).expanduser()
    if target.exists() and not overwrite:
        raise BusinessError(
            f"'{target}' already exists: set `overwrite` to replace it",
            kind="file_exists",
            details={"file": target.name},
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    return target

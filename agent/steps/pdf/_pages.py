"""Page operations with pypdf: merge, split, extract, rotate, encrypt and decrypt.

Each writes a new file and never changes its source; `overwrite` must be set to replace an
existing output. Passwords come from credentials (`context().secret(name)`); AES-256 needs the
`cryptography` package (part of the `pdf` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from agent.steps.pdf._documents import (
    PagesParams,
    Params,
    SourceParams,
    check_selection,
    existing,
    open_pypdf,
    output_path,
    resolve_password,
    select_pages,
)
from agent.steps.pdf._errors import map_pdf_errors
from shared.errors import BusinessError
from shared.steps import CREDENTIAL_NAME, context, step


class _Output(Params):
    output: str = Field(min_length=1, description="The PDF file to write.")
    overwrite: bool = Field(default=False, description="Replace `output` when it exists.")


def _write(writer: Any, target: Path) -> dict[str, Any]:
    with map_pdf_errors(target), open(target, "wb") as handle:
        writer.write(handle)
    return {"path": str(target), "pages": len(writer.pages), "size": target.stat().st_size}


def _copy_pages(reader: Any, numbers: list[int], source: Path) -> Any:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for number in numbers:
        with map_pdf_errors(source, number):
            writer.add_page(reader.pages[number - 1])
    return writer


class MergeParams(_Output):
    files: list[str] = Field(min_length=1, description="The PDF files to join, in order.")
    passwords: dict[str, str] = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default_factory=dict,
        description="For encrypted inputs: file path -> name of its password credential.",
    )


@step("pdf.merge", params=MergeParams, output="{path, pages, size}: the file written.")
def merge(params: MergeParams) -> dict[str, Any]:
    """Join several PDFs into one, in the order given (pypdf).

    Example node:
        {"id": "join", "type": "pdf.merge", "params": {"files": ["a.pdf", "b.pdf"], "output": "ab.pdf"}}
    """
    from pypdf import PdfWriter

    target = output_path(params.output, params.overwrite)
    writer = PdfWriter()
    for name in params.files:
        credential = params.passwords.get(name)
        source = existing(name)
        reader = open_pypdf(source, credential, resolve_password(credential))
        for number in range(1, len(reader.pages) + 1):
            context().raise_if_cancelled()
            with map_pdf_errors(source, number, credential):
                writer.add_page(reader.pages[number - 1])
    return _write(writer, target)


class ExtractPagesParams(PagesParams, _Output):
    pass


@step("pdf.extract_pages", params=ExtractPagesParams, output="{path, pages, size}: the file written.")
def extract_pages(params: ExtractPagesParams) -> dict[str, Any]:
    """Copy some pages of a PDF into a new file (pypdf), e.g. pages '2-3'.

    Example node:
        {"id": "p2", "type": "pdf.extract_pages", "params": {"path": "in.pdf", "pages": "2", "output": "p2.pdf"}}
    """
    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    numbers = select_pages(params.pages, len(reader.pages), source)
    target = output_path(params.output, params.overwrite)
    return _write(_copy_pages(reader, numbers, source), target)


class SplitParams(SourceParams):
    output_dir: str = Field(min_length=1, description="Folder for the parts, named <name>-<first page>.pdf.")
    every: int = Field(default=1, ge=1, description="Pages per part (1 = one file per page).")
    ranges: list[str] | None = Field(
        default=None, description="Instead of `every`: one part per page selection, e.g. ['1-2', '3-']."
    )
    overwrite: bool = Field(default=False, description="Replace parts that already exist.")

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if check_selection(item) is None:
                raise ValueError("a range may not be empty")
        return value


@step("pdf.split", params=SplitParams, output="A table of the parts: [{path, first_page, last_page, pages}].")
def split(params: SplitParams) -> list[dict[str, Any]]:
    """Split a PDF into parts of `every` pages, or one part per range (pypdf).

    Example node:
        {"id": "parts", "type": "pdf.split", "params": {"path": "batch.pdf", "output_dir": "out", "every": 2}}
    """
    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    count = len(reader.pages)
    if params.ranges:
        groups = [select_pages(r, count, source) for r in params.ranges]
    else:
        groups = [list(range(i, min(i + params.every, count + 1))) for i in range(1, count + 1, params.every)]
    folder = Path(params.output_dir).expanduser()
    parts = []
    for numbers in groups:
        context().raise_if_cancelled()
        target = output_path(str(folder / f"{source.stem}-{numbers[0]}.pdf"), params.overwrite)
        written = _write(_copy_pages(reader, numbers, source), target)
        parts.append(
            {"path": written["path"], "first_page": numbers[0], "last_page": numbers[-1], "pages": len(numbers)}
        )
    return parts


class RotateParams(PagesParams, _Output):
    angle: Literal[90, 180, 270, -90] = Field(description="Clockwise degrees to turn the chosen pages.")


@step("pdf.rotate", params=RotateParams, output="{path, pages, size}: the file written (every page kept).")
def rotate(params: RotateParams) -> dict[str, Any]:
    """Turn some pages (all by default) by a multiple of 90 degrees clockwise (pypdf).

    Example node:
        {"id": "turn", "type": "pdf.rotate",
         "params": {"path": "scan.pdf", "pages": "2", "angle": 90, "output": "r.pdf"}}
    """
    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    chosen = set(select_pages(params.pages, len(reader.pages), source))
    writer = _copy_pages(reader, list(range(1, len(reader.pages) + 1)), source)
    for number in sorted(chosen):
        with map_pdf_errors(source, number):
            writer.pages[number - 1].rotate(params.angle)
    return _write(writer, output_path(params.output, params.overwrite))


class SetMetadataParams(SourceParams, _Output):
    metadata: dict[str, str | None] = Field(
        min_length=1,
        description="Entries to set, e.g. {'Title': 'Invoice 42', 'Author': 'Accounts'}; null removes one. "
        "Standard names: Title, Author, Subject, Keywords, Creator, Producer.",
    )


@step("pdf.set_metadata", params=SetMetadataParams, output="{path, pages, size}: the file written.")
def set_metadata(params: SetMetadataParams) -> dict[str, Any]:
    """Write a copy of a PDF with its metadata (title, author, ...) changed (pypdf).

    Example node:
        {"id": "meta", "type": "pdf.set_metadata",
         "params": {"path": "report.pdf", "output": "final.pdf", "metadata": {"Title": "Q4 report"}}}
    """
    from pypdf import PdfWriter
    from pypdf.generic import NameObject

    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    target = output_path(params.output, params.overwrite)
    with map_pdf_errors(source, credential=params.password):
        writer = PdfWriter(clone_from=reader)
        current = {str(k): v for k, v in (reader.metadata or {}).items()}
        for name, value in params.metadata.items():
            key = "/" + name.lstrip("/")
            if value is None:
                current.pop(key, None)
            else:
                current[key] = value
        writer.metadata = {NameObject(k): v for k, v in current.items()}
    return _write(writer, target)


class EncryptParams(SourceParams, _Output):
    user_password: str = Field(
        json_schema_extra=CREDENTIAL_NAME,
        min_length=1,
        description="Name of the credential holding the password needed to open the file.",
    )
    owner_password: str | None = Field(
        json_schema_extra=CREDENTIAL_NAME,
        default=None,
        description="Name of the credential holding the owner password (full rights); default: same.",
    )
    algorithm: Literal["AES-256", "AES-128"] = Field(default="AES-256", description="Encryption algorithm.")


@step("pdf.encrypt", params=EncryptParams, output="{path, pages, size}: the encrypted file written.")
def encrypt(params: EncryptParams) -> dict[str, Any]:
    """Write a password-protected copy of a PDF (pypdf, AES), passwords from credentials.

    Example node:
        {"id": "lock", "type": "pdf.encrypt",
         "params": {"path": "report.pdf", "output": "report-locked.pdf", "user_password": "report_pdf"}}
    """
    from pypdf import PdfWriter

    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    user = context().secret(params.user_password)
    owner = context().secret(params.owner_password) if params.owner_password else user
    target = output_path(params.output, params.overwrite)
    with map_pdf_errors(source):
        writer = PdfWriter(clone_from=reader)
        writer.encrypt(user_password=user, owner_password=owner, algorithm=params.algorithm)
    return _write(writer, target)


class DecryptParams(SourceParams, _Output):
    password: str = Field(
        json_schema_extra=CREDENTIAL_NAME,
        min_length=1,
        description="Name of the credential holding the document's password.",
    )


@step("pdf.decrypt", params=DecryptParams, output="{path, pages, size}: the decrypted file written.")
def decrypt(params: DecryptParams) -> dict[str, Any]:
    """Write an unprotected copy of an encrypted PDF (pypdf), its password from a credential.

    Example node:
        {"id": "open", "type": "pdf.decrypt",
         "params": {"path": "locked.pdf", "password": "bank_pdf", "output": "o.pdf"}}
    """
    from pypdf import PdfWriter

    source = existing(params.path)
    reader = open_pypdf(source, params.password, resolve_password(params.password))
    if not reader.is_encrypted:
        raise BusinessError(f"'{source.name}' is not encrypted", kind="data", details={"file": source.name})
    target = output_path(params.output, params.overwrite)
    with map_pdf_errors(source, credential=params.password):
        writer = PdfWriter(clone_from=reader)
    return _write(writer, target)

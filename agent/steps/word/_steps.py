"""`word.*` steps: read text and tables, fill a template, convert to PDF."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.steps._storage_io import storage_credential_field, storage_path
from agent.steps.word._template import (
    PLACEHOLDER,
    MissingValue,
    Render,
    all_paragraphs,
    as_text,
    lookup,
    repeat_rows,
    replace_in_paragraph,
)
from shared.errors import BusinessError, MissingDependency, StepError, StepTimeout
from shared.steps import ASSET_FILE, context, step


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _need_docx() -> None:
    from importlib.util import find_spec

    if find_spec("docx") is None:
        raise MissingDependency("python-docx (Word documents)", extra="word")


@contextmanager
def map_docx_errors(path: Path) -> Iterator[None]:
    """Translate python-docx, zip and XML errors about one document into step errors."""
    import zipfile

    try:
        yield
    except StepError:
        raise
    except FileNotFoundError:
        raise StepError(f"no Word file at '{path}'", kind="file_not_found", retryable=False) from None
    except PermissionError:
        raise StepError(f"no permission to read or write '{path}'", kind="permission", retryable=False) from None
    except Exception as exc:
        module = type(exc).__module__.split(".")[0]
        if module not in {"docx", "zipfile", "lxml"} and not isinstance(
            exc, (zipfile.BadZipFile, KeyError, ValueError)
        ):
            raise
        raise StepError(
            f"'{path.name}' is not a readable Word document (.docx): {type(exc).__name__}: {exc}"[:300],
            kind="docx_damaged",
            retryable=False,
            details={"file": path.name},
        ) from None


def _open(path: Path) -> Any:
    _need_docx()
    import docx

    with map_docx_errors(path):
        if not path.is_file():
            raise FileNotFoundError(path)
        return docx.Document(str(path))


def _table_value(table: Any, header: bool) -> list[dict[str, Any]]:
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    if not rows:
        return []
    width = max(len(r) for r in rows)
    names = [c.strip() or f"column_{i + 1}" for i, c in enumerate(rows[0])] if header else []
    names += [f"column_{i + 1}" for i in range(len(names), width)]
    body = rows[1:] if header else rows
    return [dict(zip(names, r + [""] * (width - len(r)), strict=True)) for r in body]


class ReadParams(_Params):
    storage_credential: str | None = storage_credential_field()
    path: str = Field(min_length=1, description="The .docx file to read.")
    header: bool = Field(default=True, description="The first row of each table names its columns.")


@step(
    "word.read",
    params=ReadParams,
    output="{text, paragraphs, tables}: the body text, its paragraphs, and each table as a table value.",
    effects=False,
)
@storage_path("read")
def read(params: ReadParams) -> dict[str, Any]:
    """Read the text and the tables of a Word document (python-docx).

    Example node:
        {"id": "doc", "type": "word.read", "params": {"path": "contract.docx"}}
    """
    path = Path(params.path).expanduser()
    document = _open(path)
    with map_docx_errors(path):
        paragraphs = [p.text for p in document.paragraphs]
        tables = [_table_value(t, params.header) for t in document.tables]
    return {"text": "\n".join(paragraphs), "paragraphs": paragraphs, "tables": tables}


class FillTemplateParams(_Params):
    template: str = Field(
        min_length=1,
        json_schema_extra=ASSET_FILE,
        description="The .docx template with {{ name }} placeholders; a relative name is a file next to the flow.",
    )
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Values by placeholder name; dotted names reach into objects ({{ customer.name }}). A table "
        "row whose placeholders name a list ({{ items.Qty }}) is repeated for each row of that table.",
    )
    output: str = Field(min_length=1, description="The .docx file to write.")
    overwrite: bool = Field(default=False, description="Replace `output` when it exists.")
    missing: Literal["error", "empty", "keep"] = Field(
        default="error",
        description="A placeholder without a value: fail naming it (error), write nothing (empty), or leave it.",
    )


def _renderer(values: Mapping[str, Any], policy: str, missing: set[str]) -> Render:
    def render(name: str) -> str:
        try:
            return as_text(lookup(values, name))
        except MissingValue:
            missing.add(name)
            return "{{ " + name + " }}" if policy == "keep" else ""

    return render


@step(
    "word.fill_template",
    params=FillTemplateParams,
    output="{path, placeholders, rows}: the file written, the placeholders filled and the table rows repeated.",
)
def fill_template(params: FillTemplateParams) -> dict[str, Any]:
    """Fill a Word template's {{ placeholders }} and repeated table rows, and save it (python-docx).

    Placeholders keep the formatting of the text they replace, in the body, tables, headers and
    footers. A table row with `{{ items.Item }}` and `{{ items.Qty }}` is written once per row of
    the table value `items`.

    Example node:
        {"id": "letter", "type": "word.fill_template",
         "params": {"template": "letter.docx", "output": "out/letter-{{ inputs.customer.id }}.docx",
                    "values": {"customer": "{{ inputs.customer }}", "items": "{{ steps.lines.output }}"}}}
    """
    source = context().flow_file(params.template)  # an asset published with the flow
    target = Path(params.output).expanduser()
    if target.exists() and not params.overwrite:
        raise BusinessError(f"'{target}' already exists: set `overwrite` to replace it", kind="file_exists")
    document = _open(source)
    missing: set[str] = set()
    with map_docx_errors(source):
        rows = repeat_rows(document, params.values, lambda scope: _renderer(scope, params.missing, missing))
        render = _renderer(params.values, params.missing, missing)
        filled = 0
        for paragraph in all_paragraphs(document):
            filled += len(PLACEHOLDER.findall(paragraph.text))
            replace_in_paragraph(paragraph, render)
    if missing and params.missing == "error":
        raise BusinessError(
            f"'{source.name}' has placeholder(s) without a value: {sorted(missing)}",
            kind="data",
            details={"file": source.name, "missing": sorted(missing)},
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with map_docx_errors(target):
        document.save(str(target))
    return {"path": str(target), "placeholders": filled, "rows": rows}


class ToPdfParams(_Params):
    path: str = Field(min_length=1, description="The Word (or other office) document to convert.")
    output: str | None = Field(default=None, description="The PDF to write; default: beside the document, .pdf.")
    overwrite: bool = Field(default=False, description="Replace `output` when it exists.")
    timeout_s: float = Field(default=120, gt=0, description="Stop LibreOffice after this many seconds.")


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise MissingDependency(
            "LibreOffice (soffice) for converting documents to PDF", system_package="libreoffice-writer"
        )
    return found


@step("word.to_pdf", params=ToPdfParams, output="{path, size}: the PDF written.")
def to_pdf(params: ToPdfParams) -> dict[str, Any]:
    """Convert a Word document to PDF with LibreOffice (`soffice --headless`), when installed.

    Example node:
        {"id": "pdf", "type": "word.to_pdf", "params": {"path": "letter.docx", "output": "letter.pdf"}}
    """
    source = Path(params.path).expanduser()
    if not source.is_file():
        raise StepError(f"no document at '{source}'", kind="file_not_found", retryable=False)
    target = Path(params.output).expanduser() if params.output else source.with_suffix(".pdf")
    if target.exists() and not params.overwrite:
        raise BusinessError(f"'{target}' already exists: set `overwrite` to replace it", kind="file_exists")
    soffice = _soffice()
    with tempfile.TemporaryDirectory(prefix="rpa-soffice-") as work:
        # A profile of its own: two conversions at once (or a user's open LibreOffice) never share one.
        profile = Path(work, "profile").as_uri()
        command = [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore"]
        command += ["--convert-to", "pdf", "--outdir", work, str(source)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=params.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise StepTimeout(f"LibreOffice did not convert '{source.name}' within {params.timeout_s:g} s") from None
        produced = Path(work, source.with_suffix(".pdf").name)
        if done.returncode != 0 or not produced.is_file():
            detail = (done.stderr or done.stdout).strip()[-300:]
            raise StepError(
                f"LibreOffice could not convert '{source.name}' to PDF (exit {done.returncode}): {detail}",
                kind="conversion",
                retryable=False,
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(produced, target)
    context().log(f"converted {source.name} to {target.name}")
    return {"path": str(target), "size": target.stat().st_size}

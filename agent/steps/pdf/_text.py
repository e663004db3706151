"""Text, page count, metadata, scanned-page detection and rendering: pypdfium2, the fast path.

pdfplumber is used only where it is asked for (layout-preserving text), because pdfium reads
text many times faster (see `bench/README.md`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from agent.steps._storage_io import storage_credential_field, storage_path
from agent.steps.pdf._documents import (
    PagesParams,
    SourceParams,
    existing,
    open_pdfium,
    open_plumber,
    output_path,
    resolve_password,
    select_pages,
)
from agent.steps.pdf._errors import map_pdf_errors, need
from shared.steps import context, step

SCANNED_COVERAGE = 0.8
"""An image covering at least this share of a page without text makes the page 'scanned'."""


def _page_is_scanned(page: Any, textpage: Any) -> bool:
    import pypdfium2.raw as raw

    if textpage.count_chars() > 0:
        return False
    width, height = page.get_size()
    area = max(width * height, 1.0)
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = obj.get_bounds()
        if (right - left) * (top - bottom) >= SCANNED_COVERAGE * area:
            return True
    return False


def ocr_hint(scanned: list[int]) -> str | None:
    """What to do with scanned pages, or None when there are none."""
    if not scanned:
        return None
    listed = ", ".join(str(p) for p in scanned)
    return (
        f"page(s) {listed} have no text layer, only a scanned image: render them with pdf.render_page "
        "and read them with the ocr.* steps"
    )


def _is_encrypted(doc: Any) -> bool:
    import pypdfium2.raw as raw

    return bool(raw.FPDF_GetSecurityHandlerRevision(doc) != -1)


class InfoParams(SourceParams):
    storage_credential: str | None = storage_credential_field()


@step(
    "pdf.info",
    params=InfoParams,
    output="{pages, metadata, version, encrypted, page_sizes}: page count, document metadata "
    "(title, author, ...), PDF version, page sizes in points.",
    effects=False,
)
@storage_path("read")
def info(params: InfoParams) -> dict[str, Any]:
    """Page count, metadata and page sizes of a PDF (pypdfium2).

    Example node:
        {"id": "doc", "type": "pdf.info", "params": {"path": "{{ inputs.file }}"}}
    """
    path = existing(params.path)
    password = resolve_password(params.password)
    with open_pdfium(path, params.password, password) as doc, map_pdf_errors(path, credential=params.password):
        metadata = {k: v for k, v in doc.get_metadata_dict(skip_empty=True).items()}
        sizes = [[round(w, 2), round(h, 2)] for w, h in (doc.get_page_size(i) for i in range(len(doc)))]
        return {
            "pages": len(doc),
            "metadata": metadata,
            "version": doc.get_version(),
            "encrypted": _is_encrypted(doc),
            "page_sizes": sizes,
        }


class ReadTextParams(PagesParams):
    storage_credential: str | None = storage_credential_field()
    layout: bool = Field(
        default=False,
        description="Keep the layout (columns and indentation, with spaces) through pdfplumber; slower.",
    )
    page_separator: str = Field(default="\n\f", description="Put between pages in `text`.")


def _pdfium_text(path: Path, params: ReadTextParams, password: str | None) -> tuple[list[dict[str, Any]], list[int]]:
    pages: list[dict[str, Any]] = []
    scanned: list[int] = []
    ctx = context()
    with open_pdfium(path, params.password, password) as doc:
        for number in select_pages(params.pages, len(doc), path):
            ctx.raise_if_cancelled()
            with map_pdf_errors(path, number, params.password):
                page = doc[number - 1]
                textpage = page.get_textpage()
                text = textpage.get_text_range().replace("\r\n", "\n")
                is_scanned = _page_is_scanned(page, textpage)
                textpage.close()
                page.close()
            pages.append({"page": number, "text": text, "scanned": is_scanned})
            if is_scanned:
                scanned.append(number)
    return pages, scanned


def _layout_text(path: Path, params: ReadTextParams, password: str | None) -> tuple[list[dict[str, Any]], list[int]]:
    pages: list[dict[str, Any]] = []
    scanned: list[int] = []
    ctx = context()
    with open_plumber(path, params.password, password) as doc:
        for number in select_pages(params.pages, len(doc.pages), path):
            ctx.raise_if_cancelled()
            with map_pdf_errors(path, number, params.password):
                page = doc.pages[number - 1]
                text = page.extract_text(layout=True)
                is_scanned = not page.chars and any(
                    (img["x1"] - img["x0"]) * (img["bottom"] - img["top"])
                    >= SCANNED_COVERAGE * page.width * page.height
                    for img in page.images
                )
                page.close()
            pages.append({"page": number, "text": text, "scanned": is_scanned})
            if is_scanned:
                scanned.append(number)
    return pages, scanned


@step(
    "pdf.read_text",
    params=ReadTextParams,
    output="{text, pages: [{page, text, scanned}], scanned_pages, hint}: the text of the chosen pages; "
    "`scanned_pages` lists pages with no text layer but a page-sized image (read them with ocr.*).",
    effects=False,
)
@storage_path("read")
def read_text(params: ReadTextParams) -> dict[str, Any]:
    """Read the text of a PDF, page by page (pypdfium2; pdfplumber with `layout`).

    Pages that have no text layer but an image covering the page are scanned pages: they are
    listed in `scanned_pages` and `hint` says to read them with `pdf.render_page` and `ocr.*`.

    Example node:
        {"id": "text", "type": "pdf.read_text", "params": {"path": "invoice.pdf", "pages": "1-2"}}
    """
    path = existing(params.path)
    password = resolve_password(params.password)
    reader = _layout_text if params.layout else _pdfium_text
    pages, scanned = reader(path, params, password)
    hint = ocr_hint(scanned)
    if hint:
        context().log(hint, "warning")
    return {
        "text": params.page_separator.join(p["text"] for p in pages),
        "pages": pages,
        "scanned_pages": scanned,
        "hint": hint,
    }


class RenderPageParams(SourceParams):
    page: int = Field(default=1, ge=1, description="The page to render, 1-based.")
    dpi: int = Field(default=300, ge=36, le=1200, description="Resolution; 300 suits OCR.")
    output: str | None = Field(
        default=None, description="PNG file to write; when empty the image is kept as an artifact of the run."
    )
    overwrite: bool = Field(default=False, description="Replace `output` when it exists.")
    grayscale: bool = Field(default=False, description="Render in shades of grey (smaller, often better for OCR).")


@step(
    "pdf.render_page",
    params=RenderPageParams,
    output="{path, artifact, width, height, dpi, page}: the PNG written (`path`) or kept as an artifact "
    "(`artifact`, the artifact's name), and its size in pixels.",
)
def render_page(params: RenderPageParams) -> dict[str, Any]:
    """Render one page of a PDF to a PNG image (pypdfium2), e.g. to OCR a scanned page.

    Example node:
        {"id": "img", "type": "pdf.render_page", "params": {"path": "scan.pdf", "page": 1, "dpi": 300}}
    """
    need("PIL", "Pillow (PNG output of pdf.render_page)")
    path = existing(params.path)
    password = resolve_password(params.password)
    with open_pdfium(path, params.password, password) as doc:
        select_pages(str(params.page), len(doc), path)
        with map_pdf_errors(path, params.page, params.password):
            page = doc[params.page - 1]
            bitmap = page.render(scale=params.dpi / 72, grayscale=params.grayscale)
            image = bitmap.to_pil()
            page.close()
    result: dict[str, Any] = {"page": params.page, "dpi": params.dpi, "width": image.width, "height": image.height}
    if params.output:
        target = output_path(params.output, params.overwrite)
        image.save(target, format="PNG", dpi=(params.dpi, params.dpi))
        result.update(path=str(target), artifact=None)
    else:
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG", dpi=(params.dpi, params.dpi))
        saved = context().save_artifact(
            f"{path.stem}-page{params.page}.png", buffer.getvalue(), content_type="image/png"
        )
        result.update(path=None, artifact=saved["artifact"])
    return result

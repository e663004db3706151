"""Where the pixels come from: image files, execution artifacts, regions, PDF pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.steps._pdfium import PDFIUM_LOCK
from shared.errors import MissingDependency, StepError
from shared.steps import context

if TYPE_CHECKING:
    from PIL import Image

PDF_LOCK = PDFIUM_LOCK  # shared with the pdf.* steps: pdfium is not thread-safe
"""pdfium is not thread-safe: every call into it in this process goes through this lock."""

_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d*)\s*)?$")


def resolve(source: str | dict[str, Any]) -> Path:
    """The file behind a path or an artifact of this execution (`{"artifact": ...}`, as
    `save_artifact` and the screenshot steps return it)."""
    if isinstance(source, dict):
        ctx = context()
        return ctx.artifacts_root / ctx.execution_id / str(source["artifact"])
    return Path(source).expanduser()


def load_image(path: Path) -> Image.Image:
    """The image in `path`, decoded (errors surface here, inside the caller's error boundary)."""
    from PIL import Image

    if path.suffix.lower() == ".pdf":
        raise StepError(
            f"{path} is a PDF: read it with ocr.read_pdf",
            kind="bad_input",
            retryable=False,
            details={"file": str(path)},
        )
    image = Image.open(path)
    image.load()
    if getattr(image, "fp", None) is not None:
        # A multi-frame file (TIFF, GIF) stays open after load(): keep the first frame, close it.
        first = image.copy()
        first.info = dict(image.info)
        image.close()
        return first
    return image


def crop(image: Image.Image, region: tuple[int, int, int, int] | None, source: str) -> Image.Image:
    """`image` cut to `(left, top, width, height)`; an error naming the image's size when outside it."""
    if region is None:
        return image
    left, top, width, height = region
    if left + width > image.width or top + height > image.height:
        raise StepError(
            f"the region {list(region)} lies outside {source} ({image.width}x{image.height} px)",
            kind="bad_input",
            retryable=False,
            details={"region": list(region), "size": [image.width, image.height]},
        )
    cut = image.crop((left, top, left + width, top + height))
    cut.info = dict(image.info)
    return cut


def _ranges(spec: str) -> list[tuple[int, int | None]]:
    ranges: list[tuple[int, int | None]] = []
    for part in spec.split(","):
        found = _RANGE.match(part)
        if not found:
            raise ValueError(f"'{part.strip()}' is not a page number or range (e.g. 1-3,5,8-)")
        first = int(found.group(1))
        last = first if found.group(2) is None else (int(found.group(2)) if found.group(2) else None)
        if first < 1 or (last is not None and last < first):
            raise ValueError(f"'{part.strip()}' is not a valid page range")
        ranges.append((first, last))
    return ranges


def check_page_spec(spec: str | None) -> str | None:
    """Validate a page spec's syntax without the document (so `rpa validate` catches it)."""
    if spec is not None and spec.strip():
        _ranges(spec)
    return spec


def parse_pages(spec: str | None, count: int) -> list[int]:
    """1-based page numbers from `1-3,5,8-` (None: every page), checked against `count`.

    Raises:
        ValueError: a part that is not a number or range, or a page past the end.
    """
    if spec is None or not spec.strip():
        return list(range(1, count + 1))
    pages: list[int] = []
    for first, last in _ranges(spec):
        end = count if last is None else last
        if max(first, end) > count:
            raise ValueError(f"page {max(first, end)} is past the end of the document ({count} pages)")
        pages.extend(p for p in range(first, end + 1) if p not in pages)
    return pages


def encrypted_error(path: Path, credential: str | None) -> StepError:
    """The error for an encrypted PDF that no password, or the credential's, does not open."""
    if credential is None:
        message = f"the PDF {path} is encrypted: name the credential holding its password in `password_credential`"
    else:
        message = f"the password from credential '{credential}' does not open the PDF {path}"
    return StepError(
        message, kind="pdf_encrypted", retryable=False, details={"file": str(path), "credential": credential}
    )


class PdfPages:
    """An open PDF whose pages are rendered one at a time, in grey, at `dpi`.

    Args:
        path: the PDF file.
        password: its password, when it is encrypted.
        credential: the name of the credential the password came from (named in errors; the
            password never is).

    Raises:
        StepError: kind `pdf_encrypted` when the PDF is encrypted and no password or a wrong one
            was given, `bad_input` when it is not a readable PDF.
    """

    def __init__(self, path: Path, password: str | None = None, credential: str | None = None) -> None:
        try:
            import pypdfium2
        except ImportError:
            raise MissingDependency("the PDF renderer pypdfium2", extra="ocr") from None

        if not path.is_file():
            raise FileNotFoundError(2, "no such file", str(path))
        with PDF_LOCK:
            try:
                self._pdf = pypdfium2.PdfDocument(path, password=password)
            except pypdfium2.PdfiumError as exc:
                if "password" in str(exc).lower():
                    raise encrypted_error(path, credential if password is not None else None) from None
                raise StepError(
                    f"cannot open the PDF {path}: {exc}", kind="bad_input", retryable=False, details={"file": str(path)}
                ) from None
            self.count = len(self._pdf)
        self.path = path

    def render(self, number: int, dpi: int) -> Image.Image:
        """Page `number` (1-based) as a greyscale Pillow image with its dpi recorded."""
        import pypdfium2

        with PDF_LOCK:
            try:
                page = self._pdf[number - 1]
                try:
                    bitmap = page.render(scale=dpi / 72, grayscale=True)
                    image: Image.Image = bitmap.to_pil()
                finally:
                    page.close()
            except pypdfium2.PdfiumError as exc:
                raise StepError(
                    f"cannot render page {number} of {self.path}: {exc}",
                    kind="bad_input",
                    retryable=False,
                    details={"file": str(self.path), "page": number},
                ) from None
        image.info["dpi"] = (dpi, dpi)
        return image

    def iter_pages(self, numbers: list[int], dpi: int) -> Iterator[tuple[int, Image.Image]]:
        """`(number, image)` for each page in `numbers`, rendered when asked for."""
        for number in numbers:
            yield number, self.render(number, dpi)

    def close(self) -> None:
        """Release the document."""
        with PDF_LOCK:
            self._pdf.close()

"""The `ocr.*` steps: thin wrappers over the engine, with the error boundary around each.

Word boxes are always in the source image's pixels (a region's offset added back, upscaling
and deskew undone), so a box from `ocr.find_text` can be clicked by a desktop step directly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.steps.ocr._engine import Recognition, Word, check_languages, installed_languages, recognize
from agent.steps.ocr._errors import map_tesseract_errors
from agent.steps.ocr._match import match_words
from agent.steps.ocr._pages import process_pages
from agent.steps.ocr._params import FindTextParams, OcrOptions, ReadPdfParams, ReadTextParams, ReadWordsParams
from agent.steps.ocr._sources import PdfPages, crop, load_image, parse_pages, resolve
from shared.errors import MissingDependency, StepError
from shared.steps import NoParams, context, step

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL import Image


def _require_libraries() -> None:
    try:
        import cv2  # noqa: F401
        import PIL  # noqa: F401
        import pytesseract  # noqa: F401
    except ImportError as exc:
        raise MissingDependency(f"the OCR library {exc.name}", extra="ocr") from None


def _word_row(word: Word, dx: int = 0, dy: int = 0) -> dict[str, Any]:
    return {
        "text": word.text,
        "left": word.left + dx,
        "top": word.top + dy,
        "width": word.width,
        "height": word.height,
        "confidence": word.confidence,
        "block": word.block,
        "paragraph": word.paragraph,
        "line": word.line,
    }


def _mean_confidence(words: tuple[Word, ...]) -> float:
    return round(sum(w.confidence for w in words) / len(words), 2) if words else 0.0


def _read(
    image: Image.Image, options: OcrOptions, stop: Callable[[], bool] | None = None, *, words: bool = True
) -> Recognition:
    return recognize(
        image,
        lang=options.lang,
        psm=options.psm,
        dpi=options.dpi,
        upscale=options.upscale_factor(),
        deskew=options.deskew,
        cancelled=stop or context().is_cancelled,
        timeout=options.timeout,
        words=words,
    )


def _read_image(
    params: ReadTextParams | ReadWordsParams | FindTextParams, *, words: bool = True
) -> tuple[Recognition, int, int, str]:
    """Open, crop and read the image of `params`; the words and the region's offset."""
    _require_libraries()
    path = resolve(params.image)
    source = str(path)
    with map_tesseract_errors(source):
        check_languages(params.options.lang)
        image = crop(load_image(path), params.region.box() if params.region else None, source)
        started = time.monotonic()
        recognition = _read(image, params.options, words=words)
    notes = [f"upscaled {recognition.scale:g}x"] if recognition.scale != 1 else []
    notes += [f"deskewed {recognition.angle:g} degrees"] if recognition.angle else []
    what = f"{len(recognition.words)} words" if words else f"{len(recognition.text)} characters"
    context().log(
        f"read {what} from {path.name} in {time.monotonic() - started:.2f} s"
        + (f" ({', '.join(notes)})" if notes else "")
    )
    dx, dy = (params.region.left, params.region.top) if params.region else (0, 0)
    return recognition, dx, dy, source


@step(
    "ocr.read_text",
    params=ReadTextParams,
    output="{text, angle (deskew, degrees), scale (upscaling), confidence (mean 0-100, when asked)}",
    capability="ocr",
    effects=False,
)
def read_text(params: ReadTextParams) -> dict[str, Any]:
    """Read the text of an image file, a region of it, or a screenshot artifact.

    Lines are joined by newlines and paragraphs by a blank line. Small text is enlarged and a
    slight tilt (up to 5 degrees) straightened first, unless `options` says otherwise.

    Example node:
        {"id": "scan", "type": "ocr.read_text",
         "params": {"image": "inbox/invoice.png", "region": {"left": 0, "top": 0, "width": 1200, "height": 400},
                    "options": {"lang": "eng", "psm": 6}}}
    """
    recognition, _, _, _ = _read_image(params, words=params.confidence)
    result: dict[str, Any] = {"text": recognition.text, "angle": recognition.angle, "scale": recognition.scale}
    if params.confidence:
        result["confidence"] = _mean_confidence(recognition.words)
    return result


@step(
    "ocr.read_words",
    params=ReadWordsParams,
    output="a table: one row per word {text, left, top, width, height, confidence, block, paragraph, line}",
    capability="ocr",
    effects=False,
)
def read_words(params: ReadWordsParams) -> list[dict[str, Any]]:
    """Read every word of an image with its box (image pixels) and confidence, as a table.

    `block`, `paragraph` and `line` number the layout tesseract found, so rows can be grouped
    back into lines.

    Example node:
        {"id": "words", "type": "ocr.read_words",
         "params": {"image": "{{ steps.shot.output }}", "min_confidence": 70}}
    """
    recognition, dx, dy, _ = _read_image(params)
    return [_word_row(w, dx, dy) for w in recognition.words if w.confidence >= params.min_confidence]


@step(
    "ocr.find_text",
    params=FindTextParams,
    output="the matches in reading order: [{text, left, top, width, height, center_x, center_y, confidence}]",
    capability="ocr",
    effects=False,
)
def find_text_step(params: FindTextParams) -> list[dict[str, Any]]:
    """Find a word or phrase in an image and return where it is (to click it, or to check it is there).

    Case and surrounding punctuation are ignored unless `exact`. With `required`, no match is an
    error of kind `not_found` (retryable: the screen may not show it yet).

    Example node:
        {"id": "where", "type": "ocr.find_text",
         "params": {"image": "{{ steps.shot.output }}", "text": "Submit", "required": true}}
    """
    recognition, dx, dy, source = _read_image(params)
    matches = match_words(recognition.words, params.text, exact=params.exact, min_confidence=params.min_confidence)
    if not matches and params.required:
        seen = sorted({w.text for w in recognition.words}, key=str.casefold)[:20]
        raise StepError(
            f"the text '{params.text}' was not found in {source}",
            kind="not_found",
            retryable=True,
            details={"text": params.text, "words_seen": seen},
        )
    return [
        {
            "text": m.text,
            "left": m.left + dx,
            "top": m.top + dy,
            "width": m.width,
            "height": m.height,
            "center_x": m.center[0] + dx,
            "center_y": m.center[1] + dy,
            "confidence": m.confidence,
        }
        for m in matches
    ]


def _pdf_page_row(number: int, recognition: Recognition, include_words: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"page": number, "text": recognition.text, "angle": recognition.angle}
    if include_words:
        row["confidence"] = _mean_confidence(recognition.words)
        row["words"] = [_word_row(w) for w in recognition.words]
    return row


@step(
    "ocr.read_pdf",
    params=ReadPdfParams,
    output="{text (pages separated by a form feed), pages: [{page, text, angle, confidence?, words?}], page_count}",
    capability="ocr",
    effects=False,
)
def read_pdf(params: ReadPdfParams) -> dict[str, Any]:
    """Read a PDF's pages by OCR (scans, faxes, image-only PDFs), several pages at once.

    Each page is rendered at `dpi` (pdfium) and read by its own tesseract process, as many at
    once as the agent has cores (or `workers`). Cancelling the execution stops the running pages.
    For PDFs with a text layer, the `pdf` steps extract the text without OCR, faster and exactly.

    Example node:
        {"id": "scan", "type": "ocr.read_pdf",
         "params": {"path": "inbox/scan.pdf", "pages": "1-2", "dpi": 300}}
    """
    _require_libraries()
    ctx = context()
    path = Path(params.path).expanduser()
    password = ctx.secret(params.password_credential) if params.password_credential else None
    started = time.monotonic()
    with map_tesseract_errors(str(path)):
        check_languages(params.options.lang)
        document = PdfPages(path, password, params.password_credential)
        try:
            try:
                numbers = parse_pages(params.pages, document.count)
            except ValueError as exc:
                raise StepError(f"{exc} in {path}", kind="bad_input", retryable=False) from None

            def work(number: int, image: Image.Image, stop: Callable[[], bool]) -> dict[str, Any]:
                with map_tesseract_errors(f"page {number} of {path}"):
                    recognition = _read(image, params.options, stop, words=params.include_words)
                    return _pdf_page_row(number, recognition, params.include_words)

            rows = process_pages(
                document.iter_pages(numbers, params.dpi), work, workers=params.workers, cancelled=ctx.is_cancelled
            )
        finally:
            document.close()
    ctx.log(f"read {len(rows)} pages of {path.name} in {time.monotonic() - started:.1f} s")
    return {"text": "\n\f\n".join(r["text"] for r in rows), "pages": rows, "page_count": document.count}


@step(
    "ocr.languages",
    params=NoParams,
    output="the installed language codes, e.g. ['eng', 'deu']",
    capability="ocr",
    effects=False,
)
def languages(params: NoParams) -> list[str]:
    """List the OCR languages installed on this agent (`tesseract --list-langs`, without `osd`).

    Example node:
        {"id": "langs", "type": "ocr.languages"}
    """
    del params
    with map_tesseract_errors():
        return installed_languages()


OCR_STEPS = (read_text, read_words, find_text_step, read_pdf, languages)

"""Words with positions, and the value near an anchor text, built on pdfplumber's words.

Coordinates are PDF points (1/72 inch) from the top-left corner of the page: `x0`/`x1` left and
right, `top`/`bottom` from the top edge, as pdfplumber gives them.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.steps._storage_io import storage_credential_field, storage_path
from agent.steps.pdf._documents import PagesParams, existing, open_plumber, resolve_password, select_pages
from agent.steps.pdf._errors import map_pdf_errors
from shared.errors import BusinessError
from shared.steps import context, step

Word = dict[str, Any]
_KEYS = ("x0", "top", "x1", "bottom")
_SAME_LINE = 2.0
"""Words whose tops differ by less than this many points are on one line."""


class WordsParams(PagesParams):
    storage_credential: str | None = storage_credential_field()
    x_tolerance: float = Field(default=3, ge=0, description="Letters closer than this (points) form one word.")
    y_tolerance: float = Field(default=3, ge=0, description="Letters whose tops differ less than this share a line.")
    keep_blank_chars: bool = Field(default=False, description="Keep spaces inside words instead of splitting there.")


def _words_of(page: Any, params: WordsParams) -> list[Word]:
    raw = page.extract_words(
        x_tolerance=params.x_tolerance, y_tolerance=params.y_tolerance, keep_blank_chars=params.keep_blank_chars
    )
    return [{"text": w["text"], **{k: round(float(w[k]), 2) for k in _KEYS}} for w in raw]


def _read_words(path: Path, params: WordsParams) -> Generator[tuple[int, list[Word]], None, None]:
    """(page, words) for each chosen page, read one page at a time (a search can stop early)."""
    password = resolve_password(params.password)
    with open_plumber(path, params.password, password) as doc:
        for number in select_pages(params.pages, len(doc.pages), path):
            context().raise_if_cancelled()
            with map_pdf_errors(path, number, params.password):
                page = doc.pages[number - 1]
                found = _words_of(page, params)
                page.close()
            yield number, found


@step(
    "pdf.words",
    params=WordsParams,
    output="A table of words: [{page, text, x0, top, x1, bottom}], positions in points from the top-left.",
    effects=False,
)
@storage_path("read")
def words(params: WordsParams) -> list[Word]:
    """Every word of the chosen pages with its position (pdfplumber).

    Example node:
        {"id": "w", "type": "pdf.words", "params": {"path": "invoice.pdf", "pages": "1"}}
    """
    return [{"page": n, **w} for n, page_words in _read_words(existing(params.path), params) for w in page_words]


Direction = Literal["right", "below", "left", "above"]


class FindNearParams(WordsParams):
    anchor: str = Field(min_length=1, description="The label to look for, e.g. 'Invoice number' (one or more words).")
    direction: Direction = Field(default="right", description="Where the value is: right, below, left or above.")
    max_distance: float = Field(
        default=200, gt=0, description="How far (points) the value may start from the anchor's edge."
    )
    word_gap: float = Field(
        default=12, ge=0, description="Words of the value are at most this far apart (points); a wider gap ends it."
    )
    case_sensitive: bool = Field(default=False, description="Match the anchor's case exactly.")
    required: bool = Field(default=True, description="Fail when no value is found; else return value null.")


def _norm(text: str, case_sensitive: bool) -> str:
    text = text.strip().rstrip(":").strip()
    return text if case_sensitive else text.casefold()


def find_anchors(line_words: list[Word], anchor: str, case_sensitive: bool) -> list[Word]:
    """Boxes of every place the anchor's words follow each other on one line."""
    tokens = [_norm(t, case_sensitive) for t in anchor.split()]
    found: list[Word] = []
    for i in range(len(line_words) - len(tokens) + 1):
        run = line_words[i : i + len(tokens)]
        if any(abs(w["top"] - run[0]["top"]) > _SAME_LINE for w in run):
            continue
        if [_norm(w["text"], case_sensitive) for w in run] == tokens:
            found.append(
                {
                    "text": " ".join(w["text"] for w in run),
                    "x0": run[0]["x0"],
                    "x1": run[-1]["x1"],
                    "top": min(w["top"] for w in run),
                    "bottom": max(w["bottom"] for w in run),
                }
            )
    return found


def _same_band(word: Word, box: Word) -> bool:
    middle = (float(word["top"]) + float(word["bottom"])) / 2
    return float(box["top"]) - 1 <= middle <= float(box["bottom"]) + 1


def _overlaps_columns(word: Word, box: Word) -> bool:
    return float(word["x0"]) < float(box["x1"]) and float(word["x1"]) > float(box["x0"])


def _chain(start: Word, candidates: list[Word], gap: float, forward: bool) -> list[Word]:
    """`start` and the words that follow it on its line with gaps of at most `gap`."""
    line = sorted((w for w in candidates if abs(w["top"] - start["top"]) <= _SAME_LINE), key=lambda w: w["x0"])
    if not forward:
        line.reverse()
    chain = [start]
    for word in line:
        edge = chain[-1]["x1"] if forward else chain[-1]["x0"]
        distance = word["x0"] - edge if forward else edge - word["x1"]
        if word is start or distance < -0.5:
            continue
        if distance > gap:
            break
        chain.append(word)
    return chain if forward else list(reversed(chain))


def _horizontal(others: list[Word], box: Word, params: FindNearParams) -> list[Word]:
    forward = params.direction == "right"

    def distance(word: Word) -> float:
        return float(word["x0"] - box["x1"]) if forward else float(box["x0"] - word["x1"])

    side = [w for w in others if _same_band(w, box) and distance(w) >= -0.5]
    if not side:
        return []
    first = min(side, key=distance)
    return _chain(first, side, params.word_gap, forward) if distance(first) <= params.max_distance else []


def _vertical(page_words: list[Word], others: list[Word], box: Word, params: FindNearParams) -> list[Word]:
    below = params.direction == "below"

    def distance(word: Word) -> float:
        return float(word["top"] - box["bottom"]) if below else float(box["top"] - word["bottom"])

    side = [w for w in others if _overlaps_columns(w, box) and distance(w) >= -0.5]
    if not side:
        return []
    first = min(side, key=distance)
    if distance(first) > params.max_distance:
        return []
    start = min((w for w in side if abs(w["top"] - first["top"]) <= _SAME_LINE), key=lambda w: float(w["x0"]))
    return _chain(start, page_words, params.word_gap, True)


def value_near(page_words: list[Word], box: Word, params: FindNearParams) -> list[Word]:
    """The words of the value next to the anchor `box`; empty when none is close enough."""
    others = [w for w in page_words if not (_same_band(w, box) and _overlaps_columns(w, box))]
    if params.direction in ("right", "left"):
        return _horizontal(others, box, params)
    return _vertical(page_words, others, box, params)


@step(
    "pdf.find_near",
    params=FindNearParams,
    output="{value, found, page, anchor, words}: the text next to the anchor (null when not found and "
    "not `required`), the page it is on, the anchor's box and the value's words with positions.",
    effects=False,
)
@storage_path("read")
def find_near(params: FindNearParams) -> dict[str, Any]:
    """The value next to a label: "right of 'Invoice number'", "below 'Total'" (pdfplumber words).

    The anchor's words must follow each other on one line (a trailing ':' is ignored). The value
    is the nearest word in `direction` within `max_distance` points, plus the words that follow it
    on its line closer than `word_gap`. The first place the anchor has a value wins.

    Example node:
        {"id": "number", "type": "pdf.find_near",
         "params": {"path": "invoice.pdf", "anchor": "Invoice number", "direction": "right"}}
    """
    path = existing(params.path)
    anchors_seen = 0
    with closing(_read_words(path, params)) as pages:  # closes the document when found early
        for number, page_words in pages:
            for box in find_anchors(page_words, params.anchor, params.case_sensitive):
                anchors_seen += 1
                value = value_near(page_words, box, params)
                if value:
                    return {
                        "value": " ".join(w["text"] for w in value),
                        "found": True,
                        "page": number,
                        "anchor": box,
                        "words": value,
                    }
    if params.required:
        if anchors_seen:
            problem = f"has no value {params.direction} of it within {params.max_distance:g} points"
        else:
            problem = "was not found"
        raise BusinessError(
            f"'{path.name}': the anchor '{params.anchor}' {problem}",
            kind="not_found",
            details={"file": path.name, "anchor": params.anchor, "anchors_found": anchors_seen},
        )
    return {"value": None, "found": False, "page": None, "anchor": None, "words": []}

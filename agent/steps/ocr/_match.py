"""Finding a word or phrase among recognised words (click-on-text)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.steps.ocr._engine import Word, recognize
from agent.steps.ocr._errors import map_tesseract_errors

if TYPE_CHECKING:
    from PIL import Image

# Typographic quotes and the ellipsis too (written as escapes: they look like ASCII ones).
_EDGE_PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d\u00ab\u00bb\u2026"


@dataclass(frozen=True)
class TextMatch:
    """Where a phrase was read: its box in the image's pixels, the words read, their confidence.

    `confidence` is the lowest confidence among the phrase's words (0-100).
    """

    left: int
    top: int
    width: int
    height: int
    text: str
    confidence: float

    @property
    def center(self) -> tuple[int, int]:
        """The middle of the box, where a click lands."""
        return self.left + self.width // 2, self.top + self.height // 2


def _normal(token: str, exact: bool) -> str:
    return token if exact else token.strip(_EDGE_PUNCTUATION).casefold()


def _lines(words: tuple[Word, ...]) -> list[list[Word]]:
    lines: list[list[Word]] = []
    key: tuple[int, int, int] | None = None
    for word in words:
        here = (word.block, word.paragraph, word.line)
        if here != key:
            lines.append([])
            key = here
        lines[-1].append(word)
    return lines


def _union(words: list[Word], text: str) -> TextMatch:
    left = min(w.left for w in words)
    top = min(w.top for w in words)
    right = max(w.left + w.width for w in words)
    bottom = max(w.top + w.height for w in words)
    return TextMatch(left, top, right - left, bottom - top, text, min(w.confidence for w in words))


def match_words(
    words: tuple[Word, ...], text: str, *, exact: bool = False, min_confidence: float = 60
) -> list[TextMatch]:
    """Every run of consecutive words on one line that reads `text`, in reading order.

    Without `exact`, case and punctuation around each word are ignored (`Total:` matches
    `total`); with it, each word must read exactly as written.
    """
    wanted = [_normal(t, exact) for t in text.split()]
    wanted = [t for t in wanted if t] or ([text] if exact else [])
    if not wanted:
        return []
    found: list[TextMatch] = []
    for line in _lines(words):
        tokens = [_normal(w.text, exact) for w in line]
        for start in range(len(line) - len(wanted) + 1):
            if tokens[start : start + len(wanted)] != wanted:
                continue
            run = line[start : start + len(wanted)]
            if min(w.confidence for w in run) >= min_confidence:
                found.append(_union(run, " ".join(w.text for w in run)))
    return found


def find_text(
    image: Image.Image,
    text: str,
    *,
    lang: str = "eng",
    exact: bool = False,
    min_confidence: float = 60,
    psm: int = 11,
    upscale: float | None = None,
    deskew: bool = False,
) -> list[TextMatch]:
    """Where `text` (a word or a phrase) appears in an image, best for clicking on it.

    Args:
        image: a screenshot or any Pillow image.
        text: the word or phrase; a phrase matches consecutive words on one line.
        lang: tesseract language(s), e.g. `eng`.
        exact: match case and punctuation exactly; otherwise both are ignored.
        min_confidence: the lowest word confidence (0-100) accepted in a match.
        psm: page segmentation mode; 11 (sparse text) suits screens with scattered labels.
        upscale: a fixed upscaling factor, or None to upscale small text automatically.
        deskew: correct a slight skew first (off by default: screens are not skewed).

    Returns:
        The matches in reading order, boxes in `image`'s pixel coordinates (also when the
        image was upscaled for recognition); empty when the text is not there.

    Raises:
        StepError: already translated (`MissingDependency` for tesseract, kind `dependency`
            for a missing language pack), so a calling step can let it through.
    """
    with map_tesseract_errors("the screen image"):
        recognition = recognize(image, lang=lang, psm=psm, upscale=upscale, deskew=deskew)
    return match_words(recognition.words, text, exact=exact, min_confidence=min_confidence)

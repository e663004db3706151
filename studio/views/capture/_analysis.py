"""What a captured region is worth as a target: how many places on the screen match it, and the
text next to it (an OCR anchor). Qt-free; OpenCV and tesseract are optional (the `desktop` /
`ocr` extras) and their absence is a message, never an ImportError.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from typing import Any

MATCH_THRESHOLD = 0.9
"""The lowest normalised correlation counted as a match (the desktop steps' default confidence)."""
ANCHOR_REACH = 240
"""How far left of and above the region (pixels) a text anchor is looked for."""


@dataclass(frozen=True, slots=True)
class Word:
    """A word tesseract read, with its box in screen pixels."""

    text: str
    left: int
    top: int
    width: int
    height: int
    confidence: float


def count_matches(screen: Any, needle: Any, threshold: float = MATCH_THRESHOLD) -> int | str:
    """How many places of `screen` (an RGB numpy array) look like `needle`, or why it cannot be told.

    Matches closer than half the needle's size are one place (the peak and its neighbours).
    """
    try:
        import cv2
        import numpy as np
    except ImportError:
        return "OpenCV is not installed (install the desktop extra: pip install 'rpa-suite[desktop]')"
    haystack = cv2.cvtColor(screen, cv2.COLOR_RGB2GRAY)
    template = cv2.cvtColor(needle, cv2.COLOR_RGB2GRAY)
    if template.shape[0] > haystack.shape[0] or template.shape[1] > haystack.shape[1]:
        return 0
    scores = cv2.matchTemplate(haystack, template, cv2.TM_CCOEFF_NORMED)
    scores = np.nan_to_num(scores, nan=0.0)
    height, width = template.shape
    found = 0
    while True:
        _, best, _, (x, y) = cv2.minMaxLoc(scores)
        if best < threshold:
            return found
        found += 1
        scores[max(0, y - height // 2) : y + height // 2 + 1, max(0, x - width // 2) : x + width // 2 + 1] = -1.0


def read_words(image: Any) -> list[Word] | str:
    """The words tesseract reads in `image` (an RGB numpy array), or why it cannot read."""
    try:
        import pytesseract
    except ImportError:
        return "pytesseract is not installed (install the ocr extra: pip install 'rpa-suite[ocr]')"
    if shutil.which(str(pytesseract.pytesseract.tesseract_cmd)) is None:
        return "tesseract is not installed (system package tesseract-ocr)"
    data = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT)
    words: list[Word] = []
    for i, text in enumerate(data["text"]):
        confidence = float(data["conf"][i])
        if text.strip() and confidence >= 50:
            box = (int(data["left"][i]), int(data["top"][i]), int(data["width"][i]), int(data["height"][i]))
            words.append(Word(text.strip(), *box, confidence))
    return words


def nearest_anchor(words: list[Word], region: tuple[int, int, int, int]) -> tuple[str, str] | None:
    """The word nearest the region on its left (same row) or above it, as (text, relation).

    `relation` is how the region sits from the word, in the desktop targets' words
    (`right-of`, `below`): `ocr:"Total" >> right-of` finds the region from the word.
    """
    left, top, right, bottom = region
    middle = (top + bottom) / 2
    best: tuple[float, str, str] | None = None
    for word in words:
        if not re.search(r"\w", word.text):
            continue
        word_right, word_middle = word.left + word.width, word.top + word.height / 2
        if word_right <= left and abs(word_middle - middle) <= (bottom - top) / 2 + word.height:
            distance, relation = left - word_right, "right-of"
        elif word.top + word.height <= top and word.left < right and word_right > left:
            distance, relation = top - (word.top + word.height), "below"
        else:
            continue
        if distance <= ANCHOR_REACH and (best is None or distance < best[0]):
            best = (distance, word.text, relation)
    return None if best is None else (best[1], best[2])

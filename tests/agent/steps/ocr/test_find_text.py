"""find_text: the boxes the desktop family clicks on, against text drawn at known places."""

from __future__ import annotations

import pytest

from agent.steps.ocr import TextMatch, find_text, match_words, recognize
from shared.errors import StepError
from tests.agent.steps.ocr.rendering import draw_words

pytestmark = pytest.mark.ocr


def contains(match: TextMatch, box: tuple[int, int, int, int], slack: int = 2) -> bool:
    left, top, right, bottom = box
    return (
        match.left <= left + slack
        and match.top <= top + slack
        and match.left + match.width >= right - slack
        and match.top + match.height >= bottom - slack
    )


@pytest.fixture(scope="module")
def screen():
    return draw_words(
        (800, 300),
        [
            ((20, 20), "Invoice number", 14),
            ((40, 120), "Total amount: 42.00", 12),
            ((600, 240), "Submit", 12),
            ((400, 60), "Cancel", 16),
            ((400, 180), "submit later", 12),
        ],
    )


@pytest.fixture(scope="module")
def words(screen):
    """The screen's words read once, as find_text reads them (sparse text, no deskew)."""
    return recognize(screen.image, psm=11, deskew=False).words


def test_find_text_reads_the_image_and_matches(screen, words):
    matches = find_text(screen.image, "Submit", exact=True)
    assert matches == match_words(words, "Submit", exact=True)
    assert len(matches) == 1
    assert contains(matches[0], screen.boxes["Submit"]), (matches[0], screen.boxes["Submit"])


@pytest.mark.parametrize("text", ["Submit", "Cancel", "Invoice number"])
def test_boxes_contain_the_drawn_text(screen, words, text):
    matches = match_words(words, text, exact=True)
    assert len(matches) == 1, matches
    assert contains(matches[0], screen.boxes[text]), (matches[0], screen.boxes[text])
    assert matches[0].confidence >= 60


def test_small_text_is_upscaled_but_boxes_stay_in_image_pixels(screen, words):
    (match,) = match_words(words, "Submit", exact=True)
    left, top, right, bottom = screen.boxes["Submit"]
    # 12 px text is read at 3x; a box in the upscaled image's pixels would be ~3x too large.
    assert match.width <= (right - left) + 6
    assert match.height <= (bottom - top) + 6
    assert match.center[0] in range(left, right)
    assert match.center[1] in range(top, bottom)


def test_case_insensitive_unless_exact(words):
    loose = match_words(words, "SUBMIT")
    assert len(loose) == 2  # "Submit" and "submit later"
    assert [m.text for m in match_words(words, "submit", exact=True)] == ["submit"]


def test_phrase_spans_consecutive_words_and_ignores_edge_punctuation(screen, words):
    (match,) = match_words(words, "total amount")
    left, top, _, bottom = screen.boxes["Total amount: 42.00"]
    assert match.text == "Total amount:"
    assert abs(match.left - left) <= 3
    assert match.top <= top + 2
    assert match.top + match.height >= bottom - 2
    assert match_words(words, "amount total") == []


def test_absent_text_and_confidence_floor(words):
    assert match_words(words, "Delete") == []
    assert match_words(words, "Cancel", min_confidence=101) == []


def test_find_text_raises_step_errors(screen):
    with pytest.raises(StepError, match="tesseract-ocr-zzz") as caught:
        find_text(screen.image, "Submit", lang="zzz")
    assert caught.value.kind == "dependency"

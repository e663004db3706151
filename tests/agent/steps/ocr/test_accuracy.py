"""Character accuracy of `ocr.read_text` on text drawn at known sizes and slight rotations."""

from __future__ import annotations

import pytest

from agent.steps.ocr import read_text
from tests.agent.steps.ocr.rendering import char_accuracy, paragraph, rotated

pytestmark = pytest.mark.ocr

LINES = [
    "Invoice INV-2026-0042 dated 7 December 2026",
    "Total due EUR 1,234.56 to account DE89 3704 0044",
]
EXPECTED = "\n".join(LINES)


@pytest.mark.parametrize("px", [10, 12, 16, 24, 40])
@pytest.mark.parametrize("degrees", [0, 1.5, -2.5])
async def test_character_accuracy(env, tmp_path, px, degrees):
    image = paragraph(LINES, px)
    if degrees:
        image = rotated(image, degrees)
    path = tmp_path / f"text-{px}.png"
    image.save(path)

    result = await env.run(read_text, {"image": str(path)})

    accuracy = char_accuracy(EXPECTED, result["text"])
    assert accuracy >= (0.98 if px >= 12 else 0.95), (accuracy, result["text"])
    assert result["angle"] == pytest.approx(degrees, abs=0.25)
    assert result["scale"] == (1 if px >= 24 else pytest.approx(2, abs=1))


LONG_LINES = [
    "The quick brown fox jumps over the lazy dog 0123456789.",
    "Invoice INV-2026-0042 dated 7 December 2026, total EUR 1,234.56",
    "Please remit payment to account DE89 3704 0044 0532 0130 00.",
]


async def test_deskew_rescues_a_tilted_scan(env, tmp_path):
    # Long lines tilted 3 degrees: tesseract alone splits and interleaves them.
    path = tmp_path / "tilted.png"
    rotated(paragraph(LONG_LINES, 12), -3).save(path)
    expected = "\n".join(LONG_LINES)
    straightened = await env.run(read_text, {"image": str(path)})
    as_is = await env.run(read_text, {"image": str(path), "options": {"deskew": False}})
    assert straightened["angle"] == pytest.approx(-3, abs=0.25)
    assert as_is["angle"] == 0
    assert char_accuracy(expected, straightened["text"]) >= 0.98
    assert char_accuracy(expected, as_is["text"]) < 0.9

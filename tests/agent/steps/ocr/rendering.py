"""Images with known text, drawn with the DejaVu fonts the installer brings, for the OCR tests."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
SANS = FONT_DIR / "DejaVuSans.ttf"
SERIF = FONT_DIR / "DejaVuSerif.ttf"


def font(size: int, path: Path = SANS) -> ImageFont.FreeTypeFont:
    """A DejaVu font at `size` px; fails with the fix when the fonts are missing."""
    assert path.exists(), f"{path} is missing: install fonts-dejavu-core (installer/system-deps.sh)"
    return ImageFont.truetype(str(path), size)


@dataclass(frozen=True)
class Drawn:
    """An image and the boxes (left, top, right, bottom) of the words drawn on it."""

    image: Image.Image
    boxes: dict[str, tuple[int, int, int, int]]


def draw_words(size: tuple[int, int], items: list[tuple[tuple[int, int], str, int]]) -> Drawn:
    """White RGB image with each `(position, text, font size)` drawn in black; boxes of each text."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    boxes = {}
    for position, text, px in items:
        f = font(px)
        draw.text(position, text, font=f, fill="black")
        box = draw.textbbox(position, text, font=f)
        boxes[text] = (int(box[0]), int(box[1]), int(box[2]), int(box[3]))
    return Drawn(image, boxes)


def paragraph(
    lines: list[str], px: int, *, width: int | None = None, margin: int = 20, path: Path = SANS
) -> Image.Image:
    """`lines` drawn one under the other at `px` px, on a white greyscale image."""
    f = font(px, path)
    line_height = int(px * 1.5)
    measure = ImageDraw.Draw(Image.new("L", (1, 1)))
    text_width = max(int(measure.textlength(line, font=f)) for line in lines)
    image = Image.new("L", (width or text_width + 2 * margin, line_height * len(lines) + 2 * margin), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_height), line, font=f, fill=0)
    return image


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    """`image` turned counter-clockwise by `degrees`, canvas grown, new corners white."""
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def normalise(text: str) -> str:
    """Whitespace collapsed to single spaces (layout is not what accuracy measures)."""
    return re.sub(r"\s+", " ", text).strip()


def char_accuracy(expected: str, got: str) -> float:
    """1 - (edit operations / expected length), from difflib's opcodes on the normalised texts."""
    a, b = normalise(expected), normalise(got)
    errors = 0
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            errors += max(i2 - i1, j2 - j1)
    return 1 - errors / max(len(a), 1)


def image_pdf(path: Path, pages: list[Image.Image], dpi: int = 150) -> Path:
    """A scanned-style PDF: each image is one page, sized as printed at `dpi` (pdfium writes it)."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument.new()
    for number, picture in enumerate(pages):
        width, height = picture.width * 72 / dpi, picture.height * 72 / dpi
        page = pdf.new_page(width, height)
        obj = pypdfium2.PdfImage.new(pdf)
        obj.set_bitmap(pypdfium2.PdfBitmap.from_pil(picture.convert("RGB")))
        obj.set_matrix(pypdfium2.PdfMatrix().scale(width, height))
        page.insert_obj(obj)
        page.gen_content()
        page.close()
        assert len(pdf) == number + 1
    pdf.save(str(path))
    pdf.close()
    return path

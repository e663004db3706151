"""Running tesseract: one child process per image, boxes mapped back to the original pixels.

The image goes to tesseract as an uncompressed BMP in a temporary file (no PNG encoding;
leptonica reads BMP ~0.1 CPU-s faster than PGM, and a file faster than standard input, on a
300 dpi page) and the result comes back on standard output: plain text when only the text is
wanted, TSV when the words and their boxes are (TSV costs tesseract ~5 % more on a page).

The child always gets `OMP_THREAD_LIMIT=1`: tesseract's own OpenMP threads made an A4 page 5x
slower on a 2-core machine; pages run in parallel processes instead (`_pages`). The child is
killed when the execution is cancelled or a timeout passes.

The program is the one `pytesseract` is configured with (`pytesseract.pytesseract.tesseract_cmd`,
`tesseract` on PATH by default), so an installation that points pytesseract elsewhere works.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.steps.ocr._errors import LanguageMissing, TesseractFailed, TesseractMissing
from agent.steps.ocr._preprocess import prepare
from shared.errors import StepCancelled, StepTimeout

if TYPE_CHECKING:
    from PIL import Image

PSM_MODES: dict[int, str] = {
    0: "orientation and script detection only",
    1: "automatic page segmentation with OSD",
    3: "fully automatic page segmentation (default)",
    4: "a single column of text of variable sizes",
    5: "a single uniform block of vertically aligned text",
    6: "a single uniform block of text",
    7: "a single text line",
    8: "a single word",
    9: "a single word in a circle",
    10: "a single character",
    11: "sparse text: as much text as possible, in no particular order",
    12: "sparse text with OSD",
    13: "raw line: a single text line, bypassing tesseract's heuristics",
}
"""Page segmentation modes tesseract 4/5 accept (2 is not implemented; 0 returns no words)."""

_POLL = 0.1


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word, its box in the original image's pixels and where it sits in the layout."""

    left: int
    top: int
    width: int
    height: int
    text: str
    confidence: float
    block: int
    paragraph: int
    line: int


@dataclass(frozen=True, slots=True)
class Recognition:
    """What tesseract read in one image.

    Attributes:
        words: the words in reading order.
        scale: the upscaling applied before recognition (1 when none).
        angle: the skew corrected in degrees, counter-clockwise positive (0 when none).
    """

    words: tuple[Word, ...]
    scale: float
    angle: float
    plain_text: str | None = None
    """tesseract's own text output, when the words were not asked for."""

    @property
    def text(self) -> str:
        """Lines joined by newlines, paragraphs and blocks separated by a blank line."""
        if self.plain_text is not None:
            return self.plain_text
        return words_to_text(self.words)


def words_to_text(words: tuple[Word, ...] | list[Word]) -> str:
    """The text of `words` laid out as tesseract's plain-text output lays it out."""
    lines: list[str] = []
    current: list[str] = []
    key: tuple[int, int, int] | None = None
    for word in words:
        here = (word.block, word.paragraph, word.line)
        if key is not None and here != key:
            lines.append(" ".join(current))
            if here[:2] != key[:2]:
                lines.append("")
            current = []
        current.append(word.text)
        key = here
    if current:
        lines.append(" ".join(current))
    return "\n".join(lines)


def tesseract_command() -> str:
    """The tesseract program's path.

    Raises:
        TesseractMissing: when it is not installed.
    """
    try:
        import pytesseract

        configured = str(pytesseract.pytesseract.tesseract_cmd)
    except ImportError:
        configured = "tesseract"
    found = shutil.which(configured)
    if found is None:
        raise TesseractMissing(configured)
    return found


def tesseract_env() -> dict[str, str]:
    """The environment for a tesseract child: ours, with OpenMP held to one thread."""
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


@functools.lru_cache(maxsize=4)
def _languages(command: str) -> tuple[str, ...]:
    result = subprocess.run(
        [command, "--list-langs"], capture_output=True, text=True, env=tesseract_env(), timeout=30, check=False
    )
    lines = (result.stdout or result.stderr).splitlines()
    return tuple(sorted(line.strip() for line in lines[1:] if line.strip() and not line.startswith("List of")))


def installed_languages() -> list[str]:
    """Languages with trained data installed (`tesseract --list-langs`), without `osd`."""
    return [lang for lang in _languages(tesseract_command()) if lang != "osd"]


def check_languages(lang: str) -> None:
    """Raise `LanguageMissing` unless every `+`-joined language in `lang` is installed."""
    installed = installed_languages()
    missing = [part for part in lang.split("+") if part not in installed]
    if missing:
        raise LanguageMissing(missing, installed)


def _parse_tsv(tsv: str) -> list[list[str]]:
    rows = []
    for line in tsv.splitlines()[1:]:
        cells = line.split("\t")
        # Only level-5 rows are words; the others are page, block, paragraph and line boxes.
        if len(cells) == 12 and cells[0] == "5" and cells[11].strip():
            rows.append(cells)
    return rows


def _communicate(
    proc: subprocess.Popen[bytes], cancelled: Callable[[], bool] | None, timeout: float | None
) -> tuple[bytes, bytes]:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return proc.communicate(timeout=_POLL)
        except subprocess.TimeoutExpired:
            pass
        if cancelled is not None and cancelled():
            proc.kill()
            proc.communicate()
            raise StepCancelled("the execution was cancelled during OCR")
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            raise StepTimeout(f"OCR took longer than {timeout:g} s", details={"timeout": timeout})


def run_tesseract(
    image: Image.Image,
    *,
    lang: str = "eng",
    psm: int = 3,
    dpi: int | None = None,
    cancelled: Callable[[], bool] | None = None,
    timeout: float | None = None,
    output: str = "tsv",
) -> str:
    """Recognise an 8-bit grey or RGB image; tesseract's `output` (`tsv` or `txt`) as text.

    Raises:
        TesseractMissing: tesseract is not installed.
        TesseractFailed: it exited with an error (a language that failed to load, a bad image).
        StepCancelled: `cancelled()` turned true while it ran (the child is killed).
        StepTimeout: it ran longer than `timeout` seconds (the child is killed).
    """
    # An uncompressed BMP in a temporary file: tesseract reads standard input byte by byte
    # (~0.1 CPU-s for a 300 dpi page), a file in one go; PNG would cost its encoding instead.
    with tempfile.TemporaryDirectory(prefix="rpa-ocr-") as folder:
        source = Path(folder) / "image.bmp"
        image.save(source, format="BMP")
        command = [tesseract_command(), str(source), "stdout", "-l", lang, "--psm", str(psm)]
        if dpi:
            command += ["--dpi", str(int(dpi))]
        if output == "tsv":
            command.append("tsv")
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tesseract_env()
            )
        except OSError as exc:
            raise TesseractMissing(str(exc)) from None
        out, err = _communicate(proc, cancelled, timeout)
    if proc.returncode != 0:
        raise TesseractFailed(proc.returncode, err.decode("utf-8", "replace"))
    return out.decode("utf-8", "replace")


def image_dpi(image: Image.Image) -> int | None:
    """The resolution recorded in the image file, when it has a plausible one."""
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and dpi and isinstance(dpi[0], int | float) and 50 <= dpi[0] <= 2400:
        return round(float(dpi[0]))
    return None


def recognize(
    image: Image.Image,
    *,
    lang: str = "eng",
    psm: int = 3,
    dpi: int | None = None,
    upscale: float | None = None,
    deskew: bool = True,
    cancelled: Callable[[], bool] | None = None,
    timeout: float | None = None,
    words: bool = True,
) -> Recognition:
    """Read the words of an image, with boxes in the image's own pixel coordinates.

    Args:
        image: any Pillow image (colour, grey, with alpha).
        lang: tesseract language(s), e.g. `eng` or `eng+deu`.
        psm: page segmentation mode (see `PSM_MODES`).
        dpi: the image's resolution; read from the file when None.
        upscale: a fixed upscaling factor, or None to upscale small text 2-3x automatically.
        deskew: estimate a slight skew (up to 5 degrees) and rotate it away first.
        cancelled: polled while tesseract runs; True kills it.
        timeout: seconds before tesseract is killed.
        words: read words with boxes (TSV); False reads only the text, ~5 % faster on a page.
    """
    prepared = prepare(image, upscale=upscale, deskew=deskew)
    resolution = dpi or image_dpi(image)
    result = run_tesseract(
        prepared.image,
        lang=lang,
        psm=psm,
        dpi=round(resolution * prepared.scale) if resolution else None,
        cancelled=cancelled,
        timeout=timeout,
        output="tsv" if words else "txt",
    )
    if not words:
        # tesseract ends its text with a form feed (page break); trailing blank lines go too.
        return Recognition((), prepared.scale, prepared.angle, result.rstrip("\f\n ").strip("\n"))
    found = []
    for cells in _parse_tsv(result):
        left, top, width, height = prepared.to_original(int(cells[6]), int(cells[7]), int(cells[8]), int(cells[9]))
        found.append(
            Word(
                left=left,
                top=top,
                width=width,
                height=height,
                text=cells[11].strip(),
                confidence=round(float(cells[10]), 2),
                block=int(cells[2]),
                paragraph=int(cells[3]),
                line=int(cells[4]),
            )
        )
    return Recognition(tuple(found), prepared.scale, prepared.angle)

"""Image preparation before tesseract: grey levels, upscaling of small text, deskew.

Tesseract reads best when the x-height is about 20-30 px; screen text is often 7-9 px, where
word accuracy drops (character accuracy holds from 10 px up). So small text is upscaled 2x or
3x, chosen from the measured text height rather than the image size: a full-screen grab with
12 px labels needs it as much as a small crop does.

Deskew uses a projection profile over the dark pixels: for each candidate angle the pixel
rows are projected onto the rotated vertical axis and the angle whose histogram is sharpest
(largest sum of squares: text lines line up with empty gaps between them) wins. It is chosen
over tesseract's OSD, which detects only 90-degree steps, and over `minAreaRect`, which fits
one box around everything and is thrown off by multi-column pages, stamps and margins. It
needs no image rotation per candidate: a sample of points is rotated instead (numpy, a few ms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

MAX_SKEW = 5.0
"""Degrees: scans are deskewed only within this range (a 90-degree turn is a different problem)."""
MIN_SKEW = 0.3
"""Degrees: below this, rotating costs more accuracy (resampling) than it brings."""
SMALL_TEXT = 14.0
"""Pixels of median glyph height under which the image is upscaled."""
_SAMPLE = 40_000
ANALYSIS_SIZE = 1600
"""Pixels: text height and skew are measured on every n-th pixel, at most this many along the
longer side (a 300 dpi page: every 3rd), which keeps the analysis near 1 % of tesseract's time."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """The image handed to tesseract and how to map its coordinates back to the original.

    Attributes:
        image: the greyscale image to recognise.
        scale: the upscaling factor applied (1 when none).
        angle: the rotation applied in degrees, counter-clockwise (0 when none).
        inverse: a 2x3 affine matrix from prepared pixels to original pixels.
    """

    image: Image.Image
    scale: float
    angle: float
    inverse: Any

    def to_original(self, left: int, top: int, width: int, height: int) -> tuple[int, int, int, int]:
        """A box in prepared pixels as the smallest box that holds it in original pixels."""
        if self.scale == 1 and self.angle == 0:
            return left, top, width, height
        m = self.inverse
        xs: list[float] = []
        ys: list[float] = []
        for x, y in ((left, top), (left + width, top), (left, top + height), (left + width, top + height)):
            xs.append(m[0][0] * x + m[0][1] * y + m[0][2])
            ys.append(m[1][0] * x + m[1][1] * y + m[1][2])
        x0, y0 = math.floor(min(xs)), math.floor(min(ys))
        return x0, y0, math.ceil(max(xs)) - x0, math.ceil(max(ys)) - y0


def to_gray(image: Image.Image) -> Image.Image:
    """The image in 8-bit grey; transparent pixels become white (screenshots with alpha)."""
    from PIL import Image

    if image.mode == "L":
        return image
    if image.mode.startswith(("I", "F")):
        # 16-bit and float scans: Pillow's convert("L") clips at 255 (a white page); stretch instead.
        import numpy as np

        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("L")
    return image.convert("L")


def _foreground(gray: np.ndarray) -> np.ndarray:
    """A boolean mask of the ink: the minority side of an Otsu threshold (dark or light text)."""
    import cv2

    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink: np.ndarray = binary == 0
    if ink.mean() > 0.5:  # light text on a dark background
        ink = ~ink
    return ink


def text_height(gray: np.ndarray, ink: np.ndarray | None = None) -> float | None:
    """The median height in pixels of the glyph-sized dark components, or None without text."""
    import cv2
    import numpy as np

    mask = (_foreground(gray) if ink is None else ink).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    widths = stats[1:, cv2.CC_STAT_WIDTH]
    # Glyph-like: not a dot of noise, not a rule or a frame.
    glyphs = heights[(heights >= 4) & (heights <= 300) & (widths <= heights * 4)]
    if glyphs.size < 3:
        return None
    return float(np.median(glyphs))


def upscale_factor(height: float | None) -> int:
    """2x or 3x for small text, 1 otherwise."""
    if height is None or height >= SMALL_TEXT:
        return 1
    return 3 if height < 7 else 2


def _profile_score(xs: np.ndarray, ys: np.ndarray, angle: float) -> float:
    import numpy as np

    rad = math.radians(angle)
    projected = ys * math.cos(rad) - xs * math.sin(rad)
    hist = np.bincount((projected - projected.min()).astype(np.int64))
    return float(np.dot(hist, hist))


def skew_angle(ink: np.ndarray) -> float:
    """The text's skew in degrees (counter-clockwise positive), 0 when unsure or below `MIN_SKEW`."""
    import numpy as np

    ys, xs = np.nonzero(ink)
    if xs.size < 200:
        return 0.0
    if xs.size > _SAMPLE:
        pick = np.random.default_rng(0).choice(xs.size, _SAMPLE, replace=False)
        xs, ys = xs[pick], ys[pick]
    xs = xs.astype(np.float64)
    ys = ys.astype(np.float64)

    def best(candidates: np.ndarray) -> tuple[float, float]:
        scores = [_profile_score(xs, ys, float(a)) for a in candidates]
        i = int(np.argmax(scores))
        return float(candidates[i]), scores[i]

    coarse, _ = best(np.arange(-MAX_SKEW, MAX_SKEW + 0.01, 0.5))
    angle, score = best(np.arange(coarse - 0.5, coarse + 0.51, 0.1))
    level = _profile_score(xs, ys, 0.0)
    # Only a clearly sharper profile counts: a photo or a single word gives no trustworthy angle.
    if abs(angle) < MIN_SKEW or score < level * 1.05:
        return 0.0
    # The profile measures the tilt of the text in image coordinates (y down); a text line
    # rotated counter-clockwise by `a` degrees rises to the right, which the profile sees as -a.
    return -round(angle, 1)


def _identity() -> list[list[float]]:
    return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def _rotate(gray: np.ndarray, angle: float) -> tuple[np.ndarray, Any]:
    """`gray` rotated clockwise by `angle` degrees (undoing a counter-clockwise skew), canvas grown."""
    import cv2
    import numpy as np

    h, w = gray.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = math.ceil(h * sin + w * cos), math.ceil(h * cos + w * sin)
    matrix[0, 2] += new_w / 2 - w / 2
    matrix[1, 2] += new_h / 2 - h / 2
    border = int(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    rotated = cv2.warpAffine(
        gray, matrix, (new_w, new_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )
    return rotated, cv2.invertAffineTransform(matrix)


def prepare(image: Image.Image, *, upscale: float | None, deskew: bool) -> Prepared:
    """Grey, deskewed and upscaled as asked.

    Args:
        image: the original image.
        upscale: a fixed factor, or None to choose it from the measured text height.
        deskew: whether to estimate the skew and rotate it away.
    """
    import cv2
    import numpy as np
    from PIL import Image

    gray_image = to_gray(image)
    if upscale is not None and upscale == 1 and not deskew:
        return Prepared(gray_image, 1.0, 0.0, _identity())
    gray = np.asarray(gray_image)
    # Every n-th pixel: near free, and strokes of page-sized images are several pixels wide.
    step = math.ceil(max(gray.shape) / ANALYSIS_SIZE)
    small = np.ascontiguousarray(gray[::step, ::step]) if step > 1 else gray
    shrink = 1 / step
    ink = _foreground(small)
    if upscale is not None:
        factor = float(upscale)
    else:
        height = text_height(small, ink)
        factor = float(upscale_factor(None if height is None else height / shrink))
    angle = skew_angle(ink) if deskew else 0.0
    inverse: Any = _identity()
    if angle:
        gray, inverse = _rotate(gray, angle)
        inverse = inverse.tolist()
    if factor != 1:
        gray = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        inverse = [
            [v / factor for v in inverse[0][:2]] + [inverse[0][2]],
            [v / factor for v in inverse[1][:2]] + [inverse[1][2]],
        ]
    if factor == 1 and not angle:
        return Prepared(gray_image, 1.0, 0.0, _identity())
    return Prepared(Image.fromarray(gray), factor, angle, inverse)

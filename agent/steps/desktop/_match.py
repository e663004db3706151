"""Finding an image on the screen with OpenCV template matching (`cv2.matchTemplate`, normalised
correlation), directly: grayscale by default, an optional scale pyramid for images captured at
another zoom, and non-maximum suppression when every match is wanted.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import MissingDependency, StepError

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["ImageMatch", "match_template"]


@dataclass(frozen=True, slots=True)
class ImageMatch:
    """Where an image was found (screen pixels) and how well it matched (0..1)."""

    left: int
    top: int
    width: int
    height: int
    confidence: float
    scale: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "top": self.top,
            "width": self.width,
            "height": self.height,
            "confidence": round(self.confidence, 4),
            "scale": self.scale,
        }


def _cv() -> tuple[Any, Any]:
    try:
        return importlib.import_module("cv2"), importlib.import_module("numpy")
    except ImportError:
        raise MissingDependency("OpenCV (opencv-python-headless)", extra="desktop") from None


def _array(image: Image.Image, grayscale: bool) -> Any:
    cv2, np = _cv()
    if grayscale:
        return np.asarray(image.convert("L"))
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


def _overlap(a: ImageMatch, b: ImageMatch) -> float:
    """Intersection over the smaller box: 0 apart, 1 when one holds the other."""
    width = min(a.left + a.width, b.left + b.width) - max(a.left, b.left)
    height = min(a.top + a.height, b.top + b.height) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return 0.0
    return (width * height) / min(a.width * a.height, b.width * b.height)


def _suppress(candidates: list[ImageMatch], limit: int) -> list[ImageMatch]:
    kept: list[ImageMatch] = []
    for candidate in sorted(candidates, key=lambda m: m.confidence, reverse=True):
        if all(_overlap(candidate, other) < 0.5 for other in kept):
            kept.append(candidate)
            if len(kept) >= limit:
                break
    return kept


def _match_one_scale(
    haystack: Any, needle: Any, scale: float, confidence: float, every: bool, origin: tuple[int, int]
) -> list[ImageMatch]:
    cv2, np = _cv()
    if scale != 1.0:
        size = (max(1, round(needle.shape[1] * scale)), max(1, round(needle.shape[0] * scale)))
        needle = cv2.resize(needle, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    height, width = needle.shape[:2]
    if height > haystack.shape[0] or width > haystack.shape[1]:
        return []
    result = cv2.matchTemplate(haystack, needle, cv2.TM_CCOEFF_NORMED)
    # A flat template (one colour) gives NaN scores: treat them as no match.
    result = np.nan_to_num(result, nan=0.0, posinf=0.0, neginf=0.0)
    left0, top0 = origin
    if not every:
        _min, best, _minloc, (x, y) = cv2.minMaxLoc(result)
        if best < confidence:
            return []
        return [ImageMatch(left0 + int(x), top0 + int(y), width, height, float(best), scale)]
    ys, xs = np.nonzero(result >= confidence)
    if len(xs) > 20000:  # a near-uniform template: keep the strongest only, NMS is quadratic
        order = np.argsort(result[ys, xs])[::-1][:20000]
        ys, xs = ys[order], xs[order]
    return [
        ImageMatch(left0 + int(x), top0 + int(y), width, height, float(result[y, x]), scale)
        for y, x in zip(ys, xs, strict=True)
    ]


COARSE_MIN_PIXELS = 300_000
"""Areas at least this large (a 640x480 window) are searched at half resolution first."""
COARSE_CANDIDATES = 5
COARSE_SLACK = 0.25
"""A half-resolution score this far below `confidence` still makes a candidate."""
REFINE_MARGIN = 4


def _coarse_candidates(haystack: Any, needle: Any, confidence: float) -> list[tuple[int, int]]:
    """Top-left corners (full resolution) of the best few matches at half resolution."""
    cv2, np = _cv()
    small_hay = cv2.pyrDown(haystack)
    small_needle = cv2.pyrDown(needle)
    result = np.nan_to_num(cv2.matchTemplate(small_hay, small_needle, cv2.TM_CCOEFF_NORMED), nan=0.0)
    height, width = small_needle.shape[:2]
    corners = []
    for _ in range(COARSE_CANDIDATES):
        _min, best, _minloc, (x, y) = cv2.minMaxLoc(result)
        if best < confidence - COARSE_SLACK:
            break
        corners.append((2 * int(x), 2 * int(y)))
        # Suppress this peak's neighbourhood before looking for the next one.
        result[max(0, y - height // 2) : y + height // 2 + 1, max(0, x - width // 2) : x + width // 2 + 1] = -1.0
    return corners


def _refine(haystack: Any, needle: Any, corner: tuple[int, int]) -> tuple[float, int, int]:
    cv2, _np = _cv()
    height, width = needle.shape[:2]
    left, top = max(0, corner[0] - REFINE_MARGIN), max(0, corner[1] - REFINE_MARGIN)
    window = haystack[top : top + height + 2 * REFINE_MARGIN, left : left + width + 2 * REFINE_MARGIN]
    if window.shape[0] < height or window.shape[1] < width:
        return (-1.0, 0, 0)
    _min, best, _minloc, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(window, needle, cv2.TM_CCOEFF_NORMED))
    return (float(best), left + int(x), top + int(y))


def _best_coarse_to_fine(
    haystack: Any, needle: Any, confidence: float, origin: tuple[int, int]
) -> list[ImageMatch] | None:
    """The best match found through a half-resolution pass, or None to search at full resolution.

    Matching a quarter of the pixels first, then a few small windows at full resolution, costs
    about a third of a full-resolution search on a 1280x800 screen. When no candidate holds up at
    full resolution the caller searches everything, so a miss here never loses a match.
    """
    if haystack.size < COARSE_MIN_PIXELS or min(needle.shape[:2]) < 16:
        return None
    refined = [_refine(haystack, needle, corner) for corner in _coarse_candidates(haystack, needle, confidence)]
    best = max(refined, default=(-1.0, 0, 0))
    if best[0] < confidence:
        return None
    height, width = needle.shape[:2]
    return [ImageMatch(origin[0] + best[1], origin[1] + best[2], width, height, best[0], 1.0)]


def match_template(
    screen: Image.Image,
    template: Image.Image,
    *,
    confidence: float = 0.9,
    grayscale: bool = True,
    scales: tuple[float, ...] = (1.0,),
    every: bool = False,
    limit: int = 100,
    origin: tuple[int, int] = (0, 0),
) -> list[ImageMatch]:
    """Where `template` appears in `screen`, best first.

    Args:
        screen: the image searched (a grab of the screen or of a region).
        template: the image to find.
        confidence: the lowest normalised correlation accepted (0..1).
        grayscale: match on luminance only (about 3x faster; colour-only differences are lost).
        scales: template scales tried (a pyramid such as 0.8, 0.9, 1.0, 1.1, 1.25).
        every: every match (non-overlapping, by non-maximum suppression) instead of the best.
        limit: the most matches returned when `every`.
        origin: the screen position of `screen`'s top-left corner, added to the results.

    Raises:
        StepError: kind `validation` when the template is larger than the area searched.
    """
    haystack, needle = _array(screen, grayscale), _array(template, grayscale)
    if needle.shape[0] > haystack.shape[0] or needle.shape[1] > haystack.shape[1]:
        raise StepError(
            f"the image ({needle.shape[1]}x{needle.shape[0]}) is larger than the area searched "
            f"({haystack.shape[1]}x{haystack.shape[0]})",
            kind="validation",
            retryable=False,
        )
    if not every and tuple(scales) == (1.0,):
        quick = _best_coarse_to_fine(haystack, needle, confidence, origin)
        if quick is not None:
            return quick
    candidates: list[ImageMatch] = []
    for scale in scales:
        candidates.extend(_match_one_scale(haystack, needle, scale, confidence, every, origin))
    if not every:
        return sorted(candidates, key=lambda m: m.confidence, reverse=True)[:1]
    return _suppress(candidates, limit)

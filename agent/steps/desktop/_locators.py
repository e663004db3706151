"""The desktop locator syntax, parsed without touching a display (pure; `rpa validate` runs it).

    target   := segment (">>" segment)*
    segment  := "image:" VALUE | "ocr:" VALUE | "window:" VALUE
              | "point:" INT "," INT | "region:" INT "," INT "," INT "," INT
              | "offset:" INT "," INT
              | ("right-of" | "left-of" | "above" | "below") [":" INT]
    VALUE    := a "double-quoted string" (\\" and \\\\ escaped) or bare text up to the next ">>"

Each segment is resolved inside the box the previous one produced (the screen, or the window the
step's `window` param names): `window:` and `region:` narrow the search, `image:` and `ocr:`
find something in it, `point:` is relative to it, `offset:` and the anchors move from it.
Examples: `image:button.png`, `ocr:"Submit"`, `point:100,200`, `region:0,0,640,400 >>
image:ok.png`, `window:"Invoice*" >> ocr:"Total" >> right-of:80`, `image:logo.png >> offset:600,0`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["ANCHORS", "LocatorSyntaxError", "Segment", "parse_target", "shorten"]

SegmentKind = Literal["image", "ocr", "window", "point", "region", "offset", "anchor"]
ANCHORS = ("right-of", "left-of", "above", "below")
ANCHOR_DEFAULT_DISTANCE = 50
"""Pixels between a box's edge and the point an anchor gives, when the target names none."""

_VALUE_KINDS = ("image", "ocr", "window")
_NUMBER_KINDS = {"point": 2, "region": 4, "offset": 2}
_MOVES = ("offset", "anchor")
_INT = re.compile(r"\s*(-?\d+)\s*")


class LocatorSyntaxError(ValueError):
    """A target that does not parse; `position` is the 0-based column of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at column {position + 1})")
        self.position = position


@dataclass(frozen=True, slots=True)
class Segment:
    """One step of a target: `value` is the text (image, ocr, window) or the anchor's name,
    `numbers` the integers (point, region, offset, anchor distance)."""

    kind: SegmentKind
    value: str = ""
    numbers: tuple[int, ...] = ()
    position: int = 0

    def __str__(self) -> str:
        if self.kind in _VALUE_KINDS:
            return f'{self.kind}:"{shorten(self.value)}"'
        if self.kind == "anchor":
            return f"{self.value}:{self.numbers[0]}"
        return f"{self.kind}:{','.join(map(str, self.numbers))}"


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut in the middle for messages: a `data:` image is kilobytes of base64."""
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 4 :]}"


def _split(text: str) -> list[tuple[str, int]]:
    """The raw segments and where each starts; `>>` inside double quotes does not split."""
    parts: list[tuple[str, int]] = []
    start, index, quoted = 0, 0, False
    while index < len(text):
        char = text[index]
        if char == "\\" and quoted:
            index += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and text.startswith(">>", index):
            parts.append((text[start:index], start))
            start = index + 2
            index += 1
        index += 1
    if quoted:
        raise LocatorSyntaxError("unterminated quoted string", len(text))
    parts.append((text[start:], start))
    return parts


def _value(raw: str, position: int) -> str:
    stripped = raw.strip()
    if not stripped:
        raise LocatorSyntaxError("empty value", position)
    if not stripped.startswith('"'):
        return stripped
    if len(stripped) < 2 or not stripped.endswith('"'):
        raise LocatorSyntaxError("text after the closing quote", position)
    inner = stripped[1:-1]
    if re.search(r'(?<!\\)"', inner.replace("\\\\", "")):
        raise LocatorSyntaxError("text after the closing quote", position)
    text = re.sub(r"\\(.)", r"\1", inner)
    if not text:
        raise LocatorSyntaxError("empty value", position)
    return text


def _numbers(kind: str, raw: str, position: int, count: int) -> tuple[int, ...]:
    pieces = raw.split(",")
    if len(pieces) != count:
        raise LocatorSyntaxError(f"{kind}: takes {count} integers separated by commas, got '{raw.strip()}'", position)
    numbers = []
    for piece in pieces:
        match = _INT.fullmatch(piece)
        if match is None:
            raise LocatorSyntaxError(f"{kind}: '{piece.strip()}' is not an integer", position)
        numbers.append(int(match.group(1)))
    if kind == "region":
        left, top, right, bottom = numbers
        if right <= left or bottom <= top:
            raise LocatorSyntaxError(
                f"region: right must exceed left and bottom exceed top (l,t,r,b), got {left},{top},{right},{bottom}",
                position,
            )
    if kind == "point" and min(numbers) < 0:
        raise LocatorSyntaxError("point: coordinates cannot be negative", position)
    return tuple(numbers)


def _segment(raw: str, start: int) -> Segment:
    offset = len(raw) - len(raw.lstrip())
    text, position = raw.strip(), start + offset
    if not text:
        raise LocatorSyntaxError("empty segment", position)
    name, colon, rest = text.partition(":")
    name = name.strip().lower()
    value_at = position + len(name) + 1
    if name in ANCHORS:
        distance = _numbers(name, rest, value_at, 1)[0] if colon else ANCHOR_DEFAULT_DISTANCE
        if distance < 0:
            raise LocatorSyntaxError(f"{name}: the distance cannot be negative", value_at)
        return Segment("anchor", name, (distance,), position)
    if not colon:
        raise LocatorSyntaxError(
            f"'{text}' is not a locator: expected kind:value with kind one of "
            f"image, ocr, window, point, region, offset, or an anchor ({', '.join(ANCHORS)})",
            position,
        )
    if name in _VALUE_KINDS:
        return Segment(name, _value(rest, value_at), (), position)  # type: ignore[arg-type]
    if name in _NUMBER_KINDS:
        return Segment(name, "", _numbers(name, rest, value_at, _NUMBER_KINDS[name]), position)  # type: ignore[arg-type]
    raise LocatorSyntaxError(
        f"unknown locator kind '{name}' (expected image, ocr, window, point, region, offset, "
        f"or an anchor: {', '.join(ANCHORS)})",
        position,
    )


def parse_target(text: str) -> tuple[Segment, ...]:
    """Parse a target into its segments, checking the order they may come in.

    Raises:
        LocatorSyntaxError: with the column of the first problem.
    """
    segments = tuple(_segment(raw, start) for raw, start in _split(text))
    for index, segment in enumerate(segments):
        if index == 0 and segment.kind in _MOVES:
            raise LocatorSyntaxError(
                f"'{segment}' moves from a previous match: put it after one (e.g. image:x.png >> {segment})",
                segment.position,
            )
        if index > 0 and segment.kind == "window":
            raise LocatorSyntaxError("window: can only start a target", segment.position)
    return segments

"""Similo-style similarity between a recorded fingerprint and a candidate element (pure).

Similo (Nass, Alégroth, Feldt, Leotta, Ricca: "Similarity-based web element localization for
robust test automation", TOSEM 2023; VON Similo 2024) scores a candidate by a weighted sum of
per-attribute similarities. Its weights: 1.5 for the attributes that rarely change (tag, id,
name, visible text, neighbouring text), 0.5 for the rest (class, href, alt, XPath, location,
area, shape, is-button). The accessibility attributes Similo does not use (role, accessible
name, label, placeholder, test id, type, title) are weighted here by the same rule: 1.5 for the
names people read or tests pin, 1.0 for role and type, 0.5 for title.

Comparisons follow Similo: equality for tag, name, role, type and test id; a sequence ratio
(difflib) for texts, href, alt and XPath; shared words for neighbours and classes; distance and
size ratios for the box. One departure: Similo compares ids for equality; here they are compared
as text, because generated ids (`inv-81723` on one load, `inv-29481` on the next) keep a stable
prefix worth some credit.

The score is normalised by the weights of the attributes the fingerprint has, so it lies in
[0, 1] whatever was recorded.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

from agent.steps.browser._fingerprint import Fingerprint

Compare = Callable[[Any, Any], float]


def _equal(a: Any, b: Any) -> float:
    return 1.0 if a == b else 0.0


def _text(a: Any, b: Any) -> float:
    a, b = str(a).lower(), str(b).lower()
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _words(a: Any, b: Any) -> float:
    """Overlap of the words in two lists of texts (neighbours, classes), as Similo's word match."""
    left = {w for t in a for w in str(t).lower().split()}
    right = {w for t in b for w in str(t).lower().split()}
    if not left and not right:
        return 1.0
    return len(left & right) / max(len(left), len(right))


def _location(a: Any, b: Any) -> float:
    # Similo counts a location as the same within 100 px; beyond, the similarity fades linearly.
    d = math.hypot(a["x"] - b["x"], a["y"] - b["y"])
    return 1.0 if d <= 100 else max(0.0, 1.0 - (d - 100) / 400)


def _ratio(x: float, y: float) -> float:
    if x <= 0 or y <= 0:
        return 1.0 if x == y else 0.0
    return min(x, y) / max(x, y)


def _area(a: Any, b: Any) -> float:
    return _ratio(a["width"] * a["height"], b["width"] * b["height"])


def _shape(a: Any, b: Any) -> float:
    return _ratio(a["width"] / max(a["height"], 1.0), b["width"] / max(b["height"], 1.0))


# (attribute, weight, comparison); the box yields three comparisons, as in Similo.
ATTRIBUTES: tuple[tuple[str, float, Compare], ...] = (
    ("tag", 1.5, _equal),
    ("id", 1.5, _text),
    ("name", 1.5, _equal),
    ("text", 1.5, _text),
    ("neighbours", 1.5, _words),
    ("accessible_name", 1.5, _text),
    ("label", 1.5, _text),
    ("placeholder", 1.5, _text),
    ("test_id", 1.5, _equal),
    ("role", 1.0, _equal),
    ("type", 1.0, _equal),
    ("classes", 0.5, _words),
    ("href", 0.5, _text),
    ("alt", 0.5, _text),
    ("title", 0.5, _text),
    ("xpath", 0.5, _text),
    ("box:location", 0.5, _location),
    ("box:area", 0.5, _area),
    ("box:shape", 0.5, _shape),
)


def _value(data: dict[str, Any], attribute: str) -> Any:
    return data.get(attribute.split(":", 1)[0])


def similarity(fingerprint: Fingerprint, candidate: dict[str, Any]) -> float:
    """How alike `candidate` (a dict read by `FINGERPRINT_JS`) is to the recorded element, 0..1."""
    recorded = fingerprint.model_dump()
    total = 0.0
    weights = 0.0
    for attribute, weight, compare in ATTRIBUTES:
        mine = _value(recorded, attribute)
        if mine in (None, "", []):
            continue  # not recorded: says nothing either way
        theirs = _value(candidate, attribute)
        weights += weight
        if theirs in (None, "", []):
            continue
        total += weight * compare(mine, theirs)
    return total / weights if weights else 0.0

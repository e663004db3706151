"""A rough fingerprint read from a selector, so a target recorded without one still gets an
error listing the page's closest candidates (never used to heal: only a recorded fingerprint is)."""

from __future__ import annotations

import re

from agent.steps.browser._fingerprint import Fingerprint
from agent.steps.browser._selectors import engine_of, split_chain

_QUOTED = r"""["']((?:[^"'\\]|\\.)*)["']"""
_CSS_RULES: tuple[tuple[str, str], ...] = (
    ("tag", r"^([a-zA-Z][a-zA-Z0-9-]*)"),
    ("id", r"#([\w-]+)"),
    ("name", r"\[name=[\"']?([^\"'\]]+)"),
    ("placeholder", r"\[placeholder=[\"']?([^\"'\]]+)"),
    ("type", r"\[type=[\"']?([^\"'\]]+)"),
    ("test_id", r"\[data-testid=[\"']?([^\"'\]]+)"),
    ("text", r":(?:has-text|text-is|text)\(" + _QUOTED),
)
_XPATH_RULES: tuple[tuple[str, str], ...] = (
    ("tag", r"/([a-zA-Z][a-zA-Z0-9-]*)(?:\[[^\]]*\])*\s*$"),
    ("id", r"@id\s*=\s*" + _QUOTED),
    ("name", r"@name\s*=\s*" + _QUOTED),
    ("placeholder", r"@placeholder\s*=\s*" + _QUOTED),
    ("text", r"(?:text\(\)|\.)\s*[,=]\s*" + _QUOTED),
)


def _apply(rules: tuple[tuple[str, str], ...], body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for attribute, pattern in rules:
        match = re.search(pattern, body)
        if match:
            found[attribute] = match.group(1)
    return found


def _internal(engine: str, body: str) -> dict[str, str]:
    quoted = re.search(_QUOTED, body)
    value = quoted.group(1) if quoted else body.strip("\"'")
    if engine in ("text", "internal:text", "internal:has-text"):
        return {"text": value}
    if engine in ("role", "internal:role"):
        role = re.match(r"[\w-]+", body)
        name = re.search(r"name=" + _QUOTED, body)
        return {"role": role.group(0) if role else "", "accessible_name": name.group(1) if name else ""}
    if engine == "internal:label":
        return {"label": value}
    if engine in ("id",):
        return {"id": value}
    if engine in ("data-testid", "internal:testid"):
        return {"test_id": value}
    if engine == "internal:attr":
        attr = re.match(r"\[(\w+)=", body)
        key = {"placeholder": "placeholder", "alt": "alt", "title": "title"}.get(attr.group(1) if attr else "", "")
        return {key: value} if key else {}
    return {}


def guess_fingerprint(selector: str) -> Fingerprint | None:
    """What the selector's last part says about the element it wanted; None when it says nothing."""
    engine, body = engine_of(split_chain(selector)[-1])
    if engine.startswith("css"):
        found = _apply(_CSS_RULES, body)
    elif engine.startswith("xpath"):
        found = _apply(_XPATH_RULES, body)
    else:
        found = _internal(engine, body)
    found = {k: v for k, v in found.items() if v}
    return Fingerprint.model_validate(found) if found else None

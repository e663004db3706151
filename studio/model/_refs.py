"""Rewrite references inside the templates of a JSON value (`steps.<id>`, `vars.<name>`,
`inputs.<name>`), for renames, paste and extract-to-sub-flow."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from shared.expressions import is_template

Rewrite = Callable[[str], str]


def reference_pattern(scope: str, names: Mapping[str, str]) -> Rewrite:
    """A rewrite of `<scope>.<old>` and `<scope>["<old>"]` to the new names in `names`."""
    if not names:
        return lambda text: text
    alternatives = "|".join(re.escape(old) for old in sorted(names, key=len, reverse=True))
    dotted = re.compile(rf"(?<![\w.]){scope}\.({alternatives})(?![\w-])")
    quoted = re.compile(rf"(?<![\w.]){scope}\[(['\"])({alternatives})\1\]")

    def rewrite(text: str) -> str:
        text = dotted.sub(lambda m: _dotted(scope, names[m.group(1)]), text)
        return quoted.sub(lambda m: f"{scope}[{m.group(1)}{names[m.group(2)]}{m.group(1)}]", text)

    return rewrite


def _dotted(scope: str, new: str) -> str:
    return f"{scope}.{new}" if re.fullmatch(r"[A-Za-z_][\w.]*", new) else f'{scope}["{new}"]'


def template_strings(value: Any) -> Iterator[tuple[Any, Any, str]]:
    """(container, key, text) for each template string inside `value` (not `value` itself)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(item, str):
            if is_template(item):
                yield value, key, item
        elif isinstance(item, dict | list):
            yield from template_strings(item)


def rewrite_in_place(value: Any, rewrite: Rewrite) -> None:
    """Apply `rewrite` to every template string inside a fresh (not yet shared) JSON value."""
    for container, key, text in list(template_strings(value)):
        container[key] = rewrite(text)


_STEPS_REF = re.compile(r"(?<![\w.])steps(?:\.([A-Za-z_][\w-]*)|\[['\"]([^'\"]+)['\"]\])")


def step_references(value: Any) -> set[str]:
    """The node ids named as `steps.<id>` in the templates inside `value`."""
    found: set[str] = set()
    for _container, _key, text in template_strings({"v": value}):
        for match in _STEPS_REF.finditer(text):
            found.add(match.group(1) or match.group(2))
    return found


def names_used(value: Any, scope: str) -> set[str]:
    """The names read as `<scope>.<name>` (or `<scope>["name"]`) in the templates inside `value`."""
    pattern = re.compile(rf"(?<![\w.]){scope}(?:\.([A-Za-z_]\w*)|\[['\"]([^'\"]+)['\"]\])")
    found: set[str] = set()
    for _container, _key, text in template_strings({"v": value}):
        for match in pattern.finditer(text):
            found.add(match.group(1) or match.group(2))
    return found

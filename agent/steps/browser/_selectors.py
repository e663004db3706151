"""Checking a Playwright selector's syntax before a run, without a browser.

`rpa validate` calls the params models' validators, so a CSS or XPath that cannot parse, or an
engine prefix Playwright does not know, is reported with its JSON path before the flow runs
instead of failing on the agent. The grammar follows Playwright's own selector parser: a chain
of parts joined by `>>`; each part is `engine=body`, or an XPath (`//...`, `..`), a quoted text,
or plain CSS. CSS bodies are parsed with cssselect (BSD) once Playwright's own pseudo-classes
with free-form arguments (`:has-text("a, b")`, `:nth-match(li, 2)`) are blanked out; XPath
bodies are compiled with lxml. When either library is missing the check is skipped: Playwright
still rejects the selector at run time (kind `invalid_selector`).
"""

from __future__ import annotations

import functools
import re

# Engines Playwright 1.4x-1.6x registers, public and internal (the form `locator.normalize()`
# and the get_by_* methods produce). A `*` prefix marks the part to capture.
KNOWN_ENGINES = frozenset(
    {
        "css",
        "css:light",
        "xpath",
        "xpath:light",
        "text",
        "text:light",
        "id",
        "id:light",
        "data-testid",
        "data-testid:light",
        "data-test-id",
        "data-test-id:light",
        "data-test",
        "data-test:light",
        "role",
        "nth",
        "visible",
        "_react",
        "_vue",
        "internal:text",
        "internal:has-text",
        "internal:has-not-text",
        "internal:has",
        "internal:has-not",
        "internal:and",
        "internal:or",
        "internal:chain",
        "internal:label",
        "internal:attr",
        "internal:testid",
        "internal:role",
        "internal:describe",
        "internal:control",
    }
)

_ENGINE = re.compile(r"^\*?([a-zA-Z_0-9+:-]+)\s*=")
# Playwright pseudo-classes whose arguments are not CSS (text, regexes, selector lists).
_PW_FUNCTIONS = (
    "has-text",
    "text-is",
    "text-matches",
    "text",
    "nth-match",
    "right-of",
    "left-of",
    "above",
    "below",
    "near",
)


class SelectorSyntaxError(ValueError):
    """A selector that cannot parse; the message says which part and why."""


def split_chain(selector: str) -> list[str]:
    """The parts of a `a >> b` chain, ignoring `>>` inside quotes, brackets and parentheses."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    i = 0
    while i < len(selector):
        ch = selector[i]
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and selector.startswith(">>", i):
            parts.append(selector[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    parts.append(selector[start:].strip())
    return parts


def engine_of(part: str) -> tuple[str, str]:
    """(engine, body) of one chain part, as Playwright's parser reads it."""
    if part.startswith(("//", "..")):
        return "xpath", part
    if part.startswith(("'", '"')):
        return "text", part
    match = _ENGINE.match(part)
    if match:
        return match.group(1), part[match.end() :].strip()
    return "css", part.removeprefix("*")


@functools.lru_cache(maxsize=1024)
def check_selector(selector: str) -> str:
    """Raise `SelectorSyntaxError` unless `selector` parses as Playwright would parse it.

    Cached: `locate` checks a target's selectors on every call, and a flow repeats the same few.

    Returns:
        The selector unchanged (so this is usable as a pydantic after-validator).
    """
    if not selector.strip():
        raise SelectorSyntaxError("the selector is empty")
    for part in split_chain(selector):
        if not part:
            raise SelectorSyntaxError(f"selector {selector!r} has an empty part around '>>'")
        engine, body = engine_of(part)
        if engine not in KNOWN_ENGINES:
            known = "css=, xpath=, text=, role=, id=, data-testid=, internal:..."
            raise SelectorSyntaxError(f"unknown selector engine '{engine}=' in {selector!r} (known: {known})")
        if not body and engine not in ("visible",):
            raise SelectorSyntaxError(f"selector part {part!r} has nothing after '{engine}='")
        if engine.startswith("css"):
            _check_css(body, selector)
        elif engine.startswith("xpath"):
            _check_xpath(body, selector)
    return selector


def _after_arguments(css: str, start: int) -> int:
    """The index just past the `)` closing the parenthesis opened before `start`; -1 if unclosed."""
    depth, quote = 1, None
    j = start
    while j < len(css) and depth:
        ch = css[j]
        if quote is not None:
            if ch == "\\":
                j += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        else:
            depth += {"(": 1, ")": -1}.get(ch, 0)
        j += 1
    return -1 if depth else j


def _blank_playwright_functions(css: str) -> str:
    """Replace `:has-text(...)` and friends (balanced, quote-aware) by a plain pseudo-class."""
    out: list[str] = []
    i = 0
    while i < len(css):
        name = next((f for f in _PW_FUNCTIONS if css.startswith(f":{f}(", i)), None)
        if name is None:
            out.append(css[i])
            i += 1
            continue
        end = _after_arguments(css, i + len(name) + 2)
        if end < 0:
            raise SelectorSyntaxError(f"unclosed ':{name}(' in CSS {css!r}")
        out.append(":pw-ext")
        i = end
    return "".join(out)


def _check_css(css: str, selector: str) -> None:
    try:
        import cssselect
    except ImportError:  # the browser extra brings it; Playwright still checks at run time
        return
    try:
        cssselect.parse(_blank_playwright_functions(css))
    except cssselect.SelectorSyntaxError as err:
        raise SelectorSyntaxError(f"CSS selector {selector!r} does not parse: {err}") from None


def _check_xpath(xpath: str, selector: str) -> None:
    try:
        from lxml import etree  # type: ignore[import-untyped]  # no stubs shipped
    except ImportError:  # the browser extra brings it; Playwright still checks at run time
        return
    try:
        etree.XPath(xpath)
    except etree.XPathSyntaxError as err:
        raise SelectorSyntaxError(f"XPath selector {selector!r} does not parse: {err}") from None

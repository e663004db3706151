"""Targets: how a browser step says which element it acts on, and `locate`, which finds it.

A target is a Playwright selector string, or a `TargetSpec`: the primary selector, fallbacks
tried in order, an anchor ("the input right of the text 'Invoice number'"), an index instead of
strict mode, and the fingerprint `describe_element` recorded, which self-healing scores the
page's elements against when every selector fails. Errors (all `StepError`):

    element_not_found   retryable: nothing matched in time; details list every selector tried
                        (with its match counts) and the closest candidates with their scores
    ambiguous_target    not retryable: several elements match and no index was given; details
                        say how many and describe the first few
    invalid_selector    not retryable: the selector does not parse (which one, the parser's words)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WrapValidator, field_validator

from agent.steps.browser._anchors import Box, Relation, choose, rank
from agent.steps.browser._errors import map_playwright_errors, require_playwright
from agent.steps.browser._fingerprint import Fingerprint
from agent.steps.browser._selectors import SelectorSyntaxError, check_selector
from shared.errors import StepError
from shared.steps import StepContext, context

State = Literal["attached", "detached", "visible", "hidden"]

_POLL_FIRST_S = 0.05
_POLL_MAX_S = 0.5
_DESCRIBED = 5
"""How many matches an `ambiguous_target` error describes."""


def _checked(selector: str) -> str:
    try:
        return check_selector(selector)
    except SelectorSyntaxError as err:
        raise ValueError(str(err)) from None


Selector = Annotated[str, AfterValidator(_checked)]
"""A Playwright selector string whose syntax is checked when the params are validated."""


class Anchor(BaseModel):
    """An element found by its position next to a visible text (a label, a heading, a cell)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, description="The visible text of the anchor element, e.g. 'Invoice number'.")
    relation: Relation = Field(
        description="Where the target is relative to the anchor: right_of, left_of, above, below or near."
    )
    max_distance_px: float | None = Field(
        default=None,
        gt=0,
        description="The farthest the target may be from the anchor, in CSS pixels "
        "(default: unlimited for a direction, 50 for near).",
    )
    exact: bool = Field(default=False, description="Match the anchor text exactly (case and whole string).")


class TargetSpec(BaseModel):
    """A recorded target: a selector, its fallbacks, an optional anchor, index and fingerprint."""

    model_config = ConfigDict(extra="forbid")

    selector: Selector = Field(
        description="The primary selector in Playwright syntax: CSS, `xpath=...` or `//...`, `text=...`, "
        '`role=button[name="Save"]`, `internal:label=...`, `data-testid=...`; parts chained with `>>`.'
    )
    fallbacks: list[Selector] = Field(
        default_factory=list,
        description="Selectors tried in order when the primary finds nothing; the one that wins is logged "
        "so the target can be updated.",
    )
    anchor: Anchor | None = Field(
        default=None,
        description="Among the selector's matches, take the one placed next to this text.",
    )
    index: int | None = Field(
        default=None,
        description="Take the n-th match (0 = first, -1 = last; with an anchor, 0 = nearest) instead of "
        "failing when several elements match.",
    )
    fingerprint: Fingerprint | None = Field(
        default=None,
        description="What the element looked like when it was recorded; self-healing compares the page's "
        "elements with it when every selector fails.",
    )
    heal: bool = Field(
        default=True,
        description="Allow self-healing for this target (it also needs a fingerprint, and healing not turned "
        "off for the step or the execution).",
    )

    @field_validator("fallbacks")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a fallback selector is listed twice")
        return value


def _target(value: Any, _handler: Any) -> str | TargetSpec:
    # One validator for both forms, so an error's location is the path in the flow document
    # (`params.target.fallbacks[1]`), with no union member names in between.
    if isinstance(value, str):
        return _checked(value)
    if isinstance(value, TargetSpec):
        return value
    if isinstance(value, dict):
        return TargetSpec.model_validate(value)
    raise ValueError("a target is a selector string or an object with a 'selector'")


Target = Annotated[str | TargetSpec, WrapValidator(_target)]
"""The field type of every step param naming an element: a selector string or a `TargetSpec`."""


@dataclass(frozen=True, slots=True)
class Located:
    """What `locate` found: a Playwright locator for exactly one element, and how."""

    locator: Any
    """A `playwright.async_api.Locator` resolving to the one element."""
    selector: str
    """The selector that found it (the primary, a fallback, or the healed one)."""
    healed: bool = False


@dataclass
class _Attempt:
    selector: str
    matches: int = 0
    visible: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"selector": self.selector, "matches": self.matches, "visible": self.visible}
        if self.note:
            found["note"] = self.note
        return found


class _Ambiguous(Exception):
    def __init__(self, selector: str, count: int, descriptions: list[str]) -> None:
        self.selector = selector
        self.count = count
        self.descriptions = descriptions


def as_spec(target: str | TargetSpec) -> TargetSpec:
    """A `TargetSpec` for either form of target (a bare string becomes its primary selector)."""
    # Not validated here: `locate` checks every selector itself and says which one is wrong.
    return target if isinstance(target, TargetSpec) else TargetSpec.model_construct(selector=target)


def current_context() -> StepContext | None:
    try:
        return context()
    except RuntimeError:  # used outside a step (a script, a test helper): no log to write to
        return None


HEALING_RESOURCE = "browser:healing"
"""Execution resource holding False once a flow turned self-healing off (`browser.healing`)."""


def healing_enabled() -> bool:
    """Whether the running execution allows self-healing (on unless a flow turned it off)."""
    ctx = current_context()
    return ctx is None or ctx.resources.get(HEALING_RESOURCE, True) is not False


def _log(message: str, level: str = "info") -> None:
    ctx = current_context()
    if ctx is not None:
        ctx.log(message, level)


_BOXES_JS = """els => els.map(e => {
  const r = e.getBoundingClientRect();
  const s = getComputedStyle(e);
  const shown = r.width > 0 && r.height > 0 && s.visibility !== 'hidden';
  return shown ? [r.x, r.y, r.width, r.height] : null;
})"""

_DESCRIBE_JS = """(els, limit) => els.slice(0, limit).map(e => {
  let d = e.tagName.toLowerCase();
  if (e.id) d += '#' + e.id;
  const cls = (e.getAttribute('class') || '').trim().split(/\\s+/).filter(Boolean).slice(0, 2);
  if (cls.length) d += '.' + cls.join('.');
  for (const a of ['name', 'type', 'placeholder', 'aria-label', 'href']) {
    const v = e.getAttribute(a);
    if (v) d += '[' + a + '="' + v.slice(0, 40) + '"]';
  }
  const t = (e.innerText || e.value || '').trim().replace(/\\s+/g, ' ');
  if (t) d += ' "' + t.slice(0, 40) + '"';
  return d;
})"""


async def _boxes(locator: Any) -> list[Box | None]:
    raw: list[list[float] | None] = await locator.evaluate_all(_BOXES_JS)
    return [None if r is None else Box(*r) for r in raw]


async def _describe(locator: Any) -> list[str]:
    found: list[str] = await locator.evaluate_all(_DESCRIBE_JS, _DESCRIBED)
    return found


def _index_ok(count: int, index: int) -> bool:
    return index < count if index >= 0 else -index <= count


async def _try_plain(scope: Any, attempt: _Attempt, spec: TargetSpec, state: State) -> Any | None:
    """The locator for one element, None when nothing matches yet; raises `_Ambiguous`."""
    base = scope.locator(attempt.selector)
    # One `count()` round trip when the target is there (Playwright's count is 3-4x cheaper than
    # an evaluate_all here): locate must cost an action next to nothing. The total, hidden
    # elements included, is read only for the report when nothing visible matched.
    pool = base if state == "attached" else base.filter(visible=True)
    count = await pool.count()
    attempt.visible = count
    attempt.matches = count if state == "attached" or count else await base.count()
    if spec.index is not None:
        return pool.nth(spec.index) if _index_ok(count, spec.index) else None
    if count == 1:
        return pool
    if count > 1:
        raise _Ambiguous(attempt.selector, count, await _describe(pool))
    return None


async def _try_anchored(scope: Any, attempt: _Attempt, spec: TargetSpec, anchor: Anchor) -> Any | None:
    base = scope.locator(attempt.selector)
    boxes = await _boxes(base)
    attempt.matches = len(boxes)
    attempt.visible = sum(box is not None for box in boxes)
    if not attempt.visible:
        return None
    anchor_boxes = [b for b in await _boxes(scope.get_by_text(anchor.text, exact=anchor.exact)) if b is not None]
    if not anchor_boxes:
        attempt.note = f"no visible anchor text {anchor.text!r}"
        return None
    if spec.index is not None:
        return _nth_nearest(base, boxes, anchor_boxes, anchor, spec.index, attempt)
    choice = choose(anchor_boxes, boxes, anchor.relation, anchor.max_distance_px)
    if choice.tied:
        tied = [base.nth(i) for i in choice.tied]
        descriptions = [(await _describe(loc))[0] for loc in tied[:_DESCRIBED]]
        raise _Ambiguous(attempt.selector, len(choice.tied), descriptions)
    if choice.index is None:
        attempt.note = f"no match {anchor.relation.replace('_', ' ')} the anchor text {anchor.text!r}"
        return None
    return base.nth(choice.index)


def _nth_nearest(
    base: Any, boxes: list[Box | None], anchors: list[Box], anchor: Anchor, index: int, attempt: _Attempt
) -> Any | None:
    ranked = rank(anchors, boxes, anchor.relation, anchor.max_distance_px)
    if not _index_ok(len(ranked), index):
        attempt.note = f"only {len(ranked)} match(es) {anchor.relation.replace('_', ' ')} the anchor"
        return None
    return base.nth(ranked[index][1])


_NAVIGATING = ("execution context was destroyed", "cannot find context with specified id")
"""Playwright's words when the page navigated during a read: nothing to report, read again."""


async def _attempt_once(scope: Any, attempt: _Attempt, spec: TargetSpec, state: State) -> Any | None:
    api = require_playwright()
    attempt.note = ""
    with map_playwright_errors(f"find {attempt.selector!r}"):
        try:
            if spec.anchor is not None:
                return await _try_anchored(scope, attempt, spec, spec.anchor)
            return await _try_plain(scope, attempt, spec, state)
        except api.Error as err:
            if any(words in str(err).lower() for words in _NAVIGATING):
                attempt.note = "the page navigated while being read"
                return None
            raise


async def _scan(scope: Any, spec: TargetSpec, attempts: list[_Attempt], state: State) -> Located | None:
    """One pass over the primary and fallbacks; the first that resolves to one element wins."""
    ambiguous: _Ambiguous | None = None
    for attempt in attempts:
        try:
            found = await _attempt_once(scope, attempt, spec, state)
        except _Ambiguous as err:
            ambiguous = ambiguous or err
            continue
        if found is not None:
            return Located(found, attempt.selector)
    if ambiguous is not None:
        raise StepError(
            f"{ambiguous.count} elements match {ambiguous.selector!r}; give an index or a more precise selector "
            f"(matches: {'; '.join(ambiguous.descriptions)})",
            kind="ambiguous_target",
            retryable=False,
            details={"selector": ambiguous.selector, "count": ambiguous.count, "matches": ambiguous.descriptions},
        )
    return None


def _log_fallback(primary: str, attempt: _Attempt, winner: str) -> None:
    what = f"matched {attempt.visible} elements" if attempt.visible > 1 else "found nothing"
    _log(
        f"target: primary selector {primary!r} {what}; fallback {winner!r} matched: update the target to use "
        f"{winner!r}",
        "warning",
    )


def _check_syntax(selectors: list[str]) -> None:
    for selector in selectors:
        try:
            check_selector(selector)
        except SelectorSyntaxError as err:
            raise StepError(
                str(err), kind="invalid_selector", retryable=False, details={"selector": selector, "reason": str(err)}
            ) from None


def _where(scope: Any) -> str:
    url = getattr(scope, "url", "")
    return f" on {url}" if isinstance(url, str) and url else ""


async def locate(
    scope: Any, target: str | TargetSpec, *, timeout_s: float, state: State = "visible", heal: bool = True
) -> Located:
    """Find the one element a target names, waiting up to `timeout_s` for it.

    The primary selector and the fallbacks are polled together, so a fallback that matches now
    wins without waiting for the primary's timeout; the first in order that resolves to exactly
    one element (the `index`-th, or the one next to the anchor) is returned. When a fallback
    wins, a warning names the selector to put first. When none matches in time and the target
    has a fingerprint, self-healing may pick a clearly best candidate (`heal=False` turns it off).

    Args:
        scope: a Playwright `Page` or `Frame` (or a `Locator` to search inside).
        target: a selector string or a `TargetSpec`.
        timeout_s: how long to wait for a match.
        state: `visible` (the default: only visible elements count), `attached`, or `hidden` /
            `detached` (then the primary selector's locator is returned for the caller to wait on).
        heal: allow self-healing when every selector fails (the step's switch). Healing also
            needs the target's own `heal` and the execution's switch (`healing_enabled`) on.

    Returns:
        A `Located` whose locator resolves to exactly one element.

    Raises:
        StepError: kinds `element_not_found`, `ambiguous_target`, `invalid_selector` (see the
            module docstring).
    """
    spec = as_spec(target)
    selectors = [spec.selector, *spec.fallbacks]
    _check_syntax(selectors)
    if state in ("hidden", "detached"):
        base = scope.locator(spec.selector)
        return Located(base if spec.index is None else base.nth(spec.index), spec.selector)
    attempts = [_Attempt(selector) for selector in selectors]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = _POLL_FIRST_S
    while True:
        found = await _scan(scope, spec, attempts, state)
        if found is not None:
            if found.selector != spec.selector:
                _log_fallback(spec.selector, attempts[0], found.selector)
            return found
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, _POLL_MAX_S)
    return await _not_found(scope, spec, attempts, timeout_s, heal)


async def _not_found(scope: Any, spec: TargetSpec, attempts: list[_Attempt], timeout_s: float, heal: bool) -> Located:
    from agent.steps.browser._guess import guess_fingerprint
    from agent.steps.browser._healing import heal_target

    closest: list[dict[str, Any]] = []
    if spec.fingerprint is not None:
        allowed = heal and spec.heal and healing_enabled()
        with map_playwright_errors(f"heal {spec.selector!r}"):
            outcome = await heal_target(scope, spec, spec.fingerprint, accept=allowed)
        if outcome.located is not None:
            return outcome.located
        closest = outcome.closest
    elif (guessed := guess_fingerprint(spec.selector)) is not None:
        declined = "no fingerprint recorded: candidates scored against the selector"
        with map_playwright_errors(f"score candidates for {spec.selector!r}"):
            closest = (await heal_target(scope, spec, guessed, accept=False, declined=declined)).closest
    others = f" or its {len(spec.fallbacks)} fallback(s)" if spec.fallbacks else ""
    anchor = f" {spec.anchor.relation.replace('_', ' ')} the text {spec.anchor.text!r}" if spec.anchor else ""
    raise StepError(
        f"no element matches {spec.selector!r}{others}{anchor} after {timeout_s:g} s{_where(scope)}",
        kind="element_not_found",
        retryable=True,
        details={"tried": [a.as_dict() for a in attempts], "closest": closest},
    )

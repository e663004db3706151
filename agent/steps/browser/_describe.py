"""`describe_element`: record a target as a descriptor (primary, ranked fallbacks, fingerprint).

The selectors come from Playwright itself, not from a generator of ours: the primary is
`locator.normalize()` (Playwright's own ranking: test id, then role + name, placeholder, label,
alt, title, text), the fallbacks are the other `get_by_*` forms Playwright would build from the
element's attributes, kept only when they resolve to exactly this element, then a CSS form
(`#id`, `tag[name=...]`) and the absolute XPath as last resorts.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from agent.steps.browser._acting import acting
from agent.steps.browser._errors import map_playwright_errors
from agent.steps.browser._fingerprint import FINGERPRINT_JS, Fingerprint
from agent.steps.browser._models import PageParams
from agent.steps.browser._targets import Target, TargetSpec, current_context
from shared.steps import step

MAX_FALLBACKS = 4
_REPR_SELECTOR = re.compile(r"selector='(.*)'>$", re.DOTALL)
_PLAIN_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def selector_of(locator: Any) -> str:
    """The selector string a Playwright locator stands for (what `page.locator()` accepts back).

    Playwright has no public accessor: the string is the one its repr shows, which is also the
    `_selector` of the implementation object.
    """
    impl = getattr(locator, "_impl_obj", None)
    found = getattr(impl, "_selector", None)
    if isinstance(found, str):
        return found
    match = _REPR_SELECTOR.search(repr(locator))
    if match is None:
        raise TypeError(f"not a Playwright locator: {locator!r}")
    return match.group(1)


_GENERATED = re.compile(r"\d{4,}|(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)\b[0-9a-f]{6,}\b|[0-9a-f]{8}-[0-9a-f]{4}", re.I)


def looks_generated(value: str) -> bool:
    """Whether an id looks made up by a framework on each load (`in-81723`, `c-3fa2b1`, a UUID):
    such an id is a poor fallback, since the next load has another."""
    return bool(_GENERATED.search(value.replace("_", "-")))


def _candidates(scope: Any, fp: Fingerprint) -> list[Any]:
    """Playwright's own locator forms for the element's attributes, most stable first."""
    found: list[Any] = []
    if fp.test_id:
        found.append(scope.get_by_test_id(fp.test_id))
    if fp.role and fp.accessible_name:
        found.append(scope.get_by_role(fp.role, name=fp.accessible_name))
    if fp.placeholder:
        found.append(scope.get_by_placeholder(fp.placeholder))
    if fp.label:
        found.append(scope.get_by_label(fp.label))
    if fp.alt:
        found.append(scope.get_by_alt_text(fp.alt))
    if fp.title:
        found.append(scope.get_by_title(fp.title))
    if fp.text and fp.tag not in ("input", "textarea", "select") and len(fp.text) <= 80:
        found.append(scope.get_by_text(fp.text))
    if fp.id and _PLAIN_ID.match(fp.id) and not looks_generated(fp.id):
        found.append(scope.locator(f"#{fp.id}"))
    if fp.name:
        found.append(scope.locator(f'{fp.tag}[name="{fp.name}"]'))
    found.append(scope.locator(f"xpath={fp.xpath}"))
    return found


async def _same_element(candidate: Any, handle: Any) -> bool:
    if await candidate.count() != 1:
        return False
    same: bool = await candidate.evaluate("(e, t) => e === t", handle)
    return same


async def describe_element(locator: Any, *, screenshot: bool = True) -> TargetSpec:
    """Record the element `locator` resolves to as a `TargetSpec`.

    Args:
        locator: a Playwright locator resolving to exactly one element.
        screenshot: keep a small screenshot of the element as an artifact of the running step
            (only inside a step; its artifact name goes in the fingerprint).

    Returns:
        The primary selector from `locator.normalize()`, up to `MAX_FALLBACKS` other selectors
        that resolve to the same element (Playwright's `get_by_*` forms, then CSS and XPath),
        and the element's `Fingerprint`.
    """
    with map_playwright_errors(f"describe {selector_of(locator)!r}"):
        raw: dict[str, Any] = await locator.evaluate(FINGERPRINT_JS)
        raw.pop("visible", None)
        fingerprint = Fingerprint.model_validate(raw)
        primary = selector_of(await locator.normalize())
        handle = await locator.element_handle()
        scope = await handle.owner_frame()
        fallbacks: list[str] = []
        root = frame_path(primary)
        for candidate in _candidates(scope, fingerprint):
            selector = root + selector_of(candidate)
            if selector == primary or selector in fallbacks or not await _same_element(candidate, handle):
                continue
            fallbacks.append(selector)
            if len(fallbacks) == MAX_FALLBACKS:
                break
        if screenshot:
            fingerprint.screenshot = await _screenshot(locator)
        await handle.dispose()
    return TargetSpec(selector=primary, fallbacks=fallbacks, fingerprint=fingerprint)


_ENTER_FRAME = " >> internal:control=enter-frame >> "


def frame_path(selector: str) -> str:
    """The iframe part of a selector (`iframe[name="x"] >> internal:control=enter-frame >> `), or "".

    `normalize()` names an element inside an iframe from the page, while the fallbacks are built
    inside the frame: they get the primary's frame path, so every selector of the target works
    from the same scope.
    """
    cut = selector.rfind(_ENTER_FRAME)
    return "" if cut < 0 else selector[: cut + len(_ENTER_FRAME)]


async def _screenshot(locator: Any) -> str | None:
    ctx = current_context()
    if ctx is None:
        return None
    png: bytes = await locator.screenshot(type="png", scale="css", animations="disabled", timeout=5000)
    return str(ctx.save_artifact("target.png", png, content_type="image/png")["artifact"])


class DescribeParams(PageParams):
    """Params of `browser.describe_element`."""

    target: Target = Field(description="The element to record: a selector or a target descriptor.")
    screenshot: bool = Field(default=True, description="Keep a small screenshot of the element as an artifact.")


@step(
    "browser.describe_element",
    params=DescribeParams,
    output="A target descriptor: `{selector, fallbacks, fingerprint}`, usable as any step's `target`.",
    capability="browser",
    effects=False,
)
async def describe_element_step(params: DescribeParams) -> dict[str, Any]:
    """Record an element as a target descriptor (primary selector, ranked fallbacks, fingerprint).

    What the studio's picker stores; a flow can also record a target once (from a selector that
    works today) and use the descriptor in later steps, so they survive changes of the page.

    Example node:
        {"id": "record", "type": "browser.describe_element", "params": {"target": "#invoice-no"}}
    """
    async with acting(params, f"describe {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target)
        spec = await describe_element(found.locator, screenshot=params.screenshot)
    return spec.model_dump(mode="json", exclude_defaults=True)

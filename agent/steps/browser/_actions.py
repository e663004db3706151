"""Navigation and element actions: goto, back, forward, reload, click, fill, type, press, select,
check, uncheck, hover, focus, upload, drag and drop, scroll into view."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.steps.browser._acting import acting
from agent.steps.browser._models import PageParams, WaitUntil
from agent.steps.browser._targets import State, Target
from shared.errors import StepError
from shared.steps import CREDENTIAL_NAME, step

__all__ = [
    "back",
    "check",
    "click",
    "drag_and_drop",
    "fill",
    "focus",
    "forward",
    "goto",
    "hover",
    "press",
    "reload",
    "scroll_into_view",
    "select_option",
    "type_text",
    "uncheck",
    "upload",
]

Modifier = Literal["Alt", "Control", "ControlOrMeta", "Meta", "Shift"]


async def _page_info(page: Any) -> dict[str, Any]:
    return {"url": page.url, "title": await page.title()}


class GotoParams(PageParams):
    """Params of `browser.goto`."""

    url: str = Field(description="The address to open, e.g. `https://erp.example/orders`.")
    wait_until: WaitUntil = Field("load", description="When navigation counts as done.")
    referer: str | None = Field(None, description="Referer header to send.")


@step("browser.goto", params=GotoParams, output="{url, title, status}", capability="browser")
async def goto(params: GotoParams) -> dict[str, Any]:
    """Open an address in the active tab.

    Example node:
        {"id": "orders", "type": "browser.goto", "params": {"url": "{{ inputs.base_url }}/orders"}}
    """
    async with acting(params, f"open {params.url}") as act:
        response = await act.page.goto(
            params.url, wait_until=params.wait_until, timeout=params.timeout_s * 1000, referer=params.referer
        )
        info = await _page_info(act.page)
        info["status"] = response.status if response is not None else None
    return info


class HistoryParams(PageParams):
    """Params of `browser.back`, `browser.forward` and `browser.reload`."""

    wait_until: WaitUntil = Field("load", description="When navigation counts as done.")


@step("browser.back", params=HistoryParams, output="{url, title}", capability="browser")
async def back(params: HistoryParams) -> dict[str, Any]:
    """Go back one page in the active tab's history.

    Example node:
        {"id": "back", "type": "browser.back", "params": {}}
    """
    async with acting(params, "go back") as act:
        await act.page.go_back(wait_until=params.wait_until, timeout=params.timeout_s * 1000)
        info = await _page_info(act.page)
    return info


@step("browser.forward", params=HistoryParams, output="{url, title}", capability="browser")
async def forward(params: HistoryParams) -> dict[str, Any]:
    """Go forward one page in the active tab's history.

    Example node:
        {"id": "forward", "type": "browser.forward", "params": {}}
    """
    async with acting(params, "go forward") as act:
        await act.page.go_forward(wait_until=params.wait_until, timeout=params.timeout_s * 1000)
        info = await _page_info(act.page)
    return info


@step("browser.reload", params=HistoryParams, output="{url, title}", capability="browser")
async def reload(params: HistoryParams) -> dict[str, Any]:
    """Reload the active tab.

    Example node:
        {"id": "refresh", "type": "browser.reload", "params": {"wait_until": "networkidle"}}
    """
    async with acting(params, "reload") as act:
        await act.page.reload(wait_until=params.wait_until, timeout=params.timeout_s * 1000)
        info = await _page_info(act.page)
    return info


class Position(BaseModel):
    """A point relative to the element's top-left corner, in CSS pixels."""

    model_config = ConfigDict(extra="forbid")
    x: float = Field(ge=0, description="Pixels from the element's left edge.")
    y: float = Field(ge=0, description="Pixels from the element's top edge.")


class TargetParams(PageParams):
    """Base of the steps acting on one element."""

    target: Target = Field(description="The element: a selector (CSS, XPath, text=, role=...) or a target descriptor.")


class ClickParams(TargetParams):
    """Params of `browser.click`."""

    button: Literal["left", "right", "middle"] = Field("left", description="Mouse button.")
    click_count: int = Field(1, ge=1, le=3, description="1 = click, 2 = double click, 3 = triple click.")
    modifiers: list[Modifier] = Field(default_factory=list, description="Keys held during the click.")
    position: Position | None = Field(None, description="Where to click in the element (default its centre).")
    force: bool = Field(False, description="Skip the checks that the element is visible, stable and enabled.")
    no_wait_after: bool = Field(False, description="Do not wait for a navigation the click starts.")


@step("browser.click", params=ClickParams, output="{url} of the page after the click.", capability="browser")
async def click(params: ClickParams) -> dict[str, Any]:
    """Click an element (any button, double click, with modifier keys, at a position).

    Waits until the element is visible, stable, enabled and not covered, then clicks it.

    Example node:
        {"id": "submit", "type": "browser.click", "params": {"target": "role=button[name='Submit order']"}}
    """
    async with acting(params, f"click {params.target!r}") as act:
        found = await act.find(params.target)
        options: dict[str, Any] = {
            "button": params.button,
            "click_count": params.click_count,
            "modifiers": list(params.modifiers),
            "force": params.force,
            "no_wait_after": params.no_wait_after,
            "timeout": params.timeout_s * 1000,
        }
        if params.position is not None:
            options["position"] = {"x": params.position.x, "y": params.position.y}
        if params.click_count == 2:
            options.pop("click_count")
            await found.locator.dblclick(**options)
        else:
            await found.locator.click(**options)
        url: str = act.page.url
    return {"url": url}


class FillParams(TargetParams):
    """Params of `browser.fill`: `value` or `credential`."""

    value: str | int | float | None = Field(None, description="The text to put in the field (replaces its content).")
    credential: str | None = Field(
        None,
        json_schema_extra=CREDENTIAL_NAME,
        description="Fill with a credential's value instead (`NAME` or `NAME.field`), masked everywhere.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> FillParams:
        if (self.value is None) == (self.credential is None):
            raise ValueError("give exactly one of value or credential")
        return self


def _text_of(params: FillParams | TypeParams) -> str:
    if params.credential is not None:
        from shared.steps import context

        return context().secret(params.credential)
    return str(params.value)


@step("browser.fill", params=FillParams, output="None", capability="browser")
async def fill(params: FillParams) -> None:
    """Set the value of an input, textarea or contenteditable (a date input takes `YYYY-MM-DD`).

    Example node:
        {"id": "user", "type": "browser.fill", "params": {"target": "#user", "value": "ann"}}
        {"id": "pw", "type": "browser.fill", "params": {"target": "#password", "credential": "erp.password"}}
    """
    text = _text_of(params)
    async with acting(params, f"fill {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target)
        await found.locator.fill(text, timeout=params.timeout_s * 1000)


class TypeParams(FillParams):
    """Params of `browser.type`."""

    delay_ms: int = Field(0, ge=0, le=5000, description="Pause between key presses, as a person types.")
    clear: bool = Field(False, description="Empty the field first.")


@step("browser.type", params=TypeParams, output="None", capability="browser")
async def type_text(params: TypeParams) -> None:
    """Type text key by key (fires key events; for fields that react to typing).

    Example node:
        {"id": "search", "type": "browser.type", "params": {"target": "#q", "value": "laptop", "delay_ms": 50}}
    """
    text = _text_of(params)
    async with acting(params, f"type into {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target)
        if params.clear:
            await found.locator.fill("", timeout=params.timeout_s * 1000)
        await found.locator.press_sequentially(text, delay=params.delay_ms, timeout=params.timeout_s * 1000)


class PressParams(PageParams):
    """Params of `browser.press`."""

    key: str = Field(description="A key or chord: `Enter`, `Tab`, `Control+A`, `ArrowDown`, `a`.")
    target: Target | None = Field(None, description="Focus this element first (default: the focused element).")
    count: int = Field(1, ge=1, le=1000, description="How many times to press it.")


@step("browser.press", params=PressParams, output="None", capability="browser")
async def press(params: PressParams) -> None:
    """Press a key or a key chord, in an element or wherever the focus is.

    Example node:
        {"id": "enter", "type": "browser.press", "params": {"target": "#q", "key": "Enter"}}
    """
    async with acting(params, f"press {params.key}") as act:
        for _ in range(params.count):
            if params.target is not None:
                found = await act.find(params.target)
                await found.locator.press(params.key, timeout=params.timeout_s * 1000)
            else:
                await act.page.keyboard.press(params.key)


class SelectParams(TargetParams):
    """Params of `browser.select_option`: one of value, label or index (a list for multi-selects)."""

    value: str | list[str] | None = Field(None, description="Option value(s).")
    label: str | list[str] | None = Field(None, description="Option text(s) as shown.")
    index: int | list[int] | None = Field(None, description="Option position(s), 0 = the first.")

    @model_validator(mode="after")
    def _exactly_one(self) -> SelectParams:
        given = [k for k in ("value", "label", "index") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of value, label or index")
        return self


@step("browser.select_option", params=SelectParams, output="The values now selected.", capability="browser")
async def select_option(params: SelectParams) -> list[str]:
    """Choose option(s) of a `<select>` by value, visible label or position.

    Example node:
        {"id": "country", "type": "browser.select_option", "params": {"target": "#country", "label": "France"}}
    """
    async with acting(params, f"select in {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target)
        timeout = params.timeout_s * 1000
        if params.value is not None:
            chosen = await found.locator.select_option(value=params.value, timeout=timeout)
        elif params.label is not None:
            chosen = await found.locator.select_option(label=params.label, timeout=timeout)
        else:
            chosen = await found.locator.select_option(index=params.index, timeout=timeout)
    return list(chosen)


async def _on_element(params: TargetParams, what: str, method: str, *, state: State = "visible") -> None:
    """Find the target and call one Playwright locator method on it (check, hover, focus...)."""
    async with acting(params, f"{what} {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state=state)
        await getattr(found.locator, method)(timeout=params.timeout_s * 1000)


@step("browser.check", params=TargetParams, output="None", capability="browser")
async def check(params: TargetParams) -> None:
    """Tick a checkbox or choose a radio button (nothing happens when it already is).

    Example node:
        {"id": "urgent", "type": "browser.check", "params": {"target": "#urgent"}}
    """
    await _on_element(params, "check", "check")


@step("browser.uncheck", params=TargetParams, output="None", capability="browser")
async def uncheck(params: TargetParams) -> None:
    """Untick a checkbox (nothing happens when it already is unticked).

    Example node:
        {"id": "no_terms", "type": "browser.uncheck", "params": {"target": "#terms"}}
    """
    await _on_element(params, "uncheck", "uncheck")


@step("browser.hover", params=TargetParams, output="None", capability="browser")
async def hover(params: TargetParams) -> None:
    """Move the mouse over an element (opens hover menus).

    Example node:
        {"id": "menu", "type": "browser.hover", "params": {"target": "text=Products"}}
    """
    await _on_element(params, "hover", "hover")


@step("browser.focus", params=TargetParams, output="None", capability="browser")
async def focus(params: TargetParams) -> None:
    """Give an element the keyboard focus.

    Example node:
        {"id": "focus", "type": "browser.focus", "params": {"target": "#amount"}}
    """
    await _on_element(params, "focus", "focus")


@step("browser.scroll_into_view", params=TargetParams, output="None", capability="browser")
async def scroll_into_view(params: TargetParams) -> None:
    """Scroll until an element is visible (lazy lists load as they come into view).

    Example node:
        {"id": "scroll", "type": "browser.scroll_into_view", "params": {"target": "#footer"}}
    """
    await _on_element(params, "scroll to", "scroll_into_view_if_needed", state="attached")


class UploadParams(TargetParams):
    """Params of `browser.upload`."""

    files: list[str] = Field(description="Paths of the files to choose; an empty list clears the choice.")


def _existing_files(files: list[str]) -> list[Path]:
    paths = [Path(p).expanduser() for p in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise StepError(f"cannot upload, no such file: {', '.join(missing)}", kind="file_not_found", retryable=False)
    return paths


@step("browser.upload", params=UploadParams, output="The names of the files chosen.", capability="browser")
async def upload(params: UploadParams) -> list[str]:
    """Choose files in an `<input type=file>`.

    Example node:
        {"id": "attach", "type": "browser.upload", "params": {"target": "#attachment", "files": ["{{ vars.pdf }}"]}}
    """
    paths = _existing_files(params.files)
    async with acting(params, f"upload to {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state="attached")
        await found.locator.set_input_files([str(p) for p in paths], timeout=params.timeout_s * 1000)
    return [p.name for p in paths]


class DragParams(PageParams):
    """Params of `browser.drag_and_drop`."""

    source: Target = Field(description="The element to drag.")
    target: Target = Field(description="The element to drop it on.")


@step("browser.drag_and_drop", params=DragParams, output="None", capability="browser")
async def drag_and_drop(params: DragParams) -> None:
    """Drag an element and drop it on another (HTML5 drag and drop and mouse-driven lists).

    Example node:
        {"id": "move", "type": "browser.drag_and_drop", "params": {"source": "#card-1", "target": "#done"}}
    """
    async with acting(params, f"drag {params.source!r} to {params.target!r}") as act:
        source = await act.find(params.source)
        target = await act.find(params.target)
        await source.locator.drag_to(target.locator, timeout=params.timeout_s * 1000)

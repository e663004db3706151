"""Reading the page: text, HTML, attributes, values, every match, tables, links, repeated items,
screenshots and PDF prints."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.steps.browser._acting import Acting, acting
from agent.steps.browser._models import PageParams
from agent.steps.browser._table_js import ITEMS_JS, LINKS_JS, TABLE_JS
from agent.steps.browser._targets import Target
from shared.steps import context, step

__all__ = [
    "extract_items",
    "get_all",
    "get_attribute",
    "get_html",
    "get_links",
    "get_table",
    "get_text",
    "get_value",
    "pdf",
    "screenshot",
]


class ElementParams(PageParams):
    """Base of the steps reading one element."""

    target: Target = Field(description="The element: a selector or a target descriptor.")


@step(
    "browser.get_text", params=ElementParams, output="The element's visible text.", capability="browser", effects=False
)
async def get_text(params: ElementParams) -> str:
    """Read an element's visible text (as rendered: hidden parts left out).

    Example node:
        {"id": "total", "type": "browser.get_text", "params": {"target": "#total"}}
    """
    async with acting(params, f"read the text of {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state="attached")
        text: str = await found.locator.inner_text(timeout=params.timeout_s * 1000)
    return text


class HtmlParams(ElementParams):
    """Params of `browser.get_html`."""

    outer: bool = Field(False, description="Include the element's own tag (outerHTML).")


@step("browser.get_html", params=HtmlParams, output="The element's HTML.", capability="browser", effects=False)
async def get_html(params: HtmlParams) -> str:
    """Read an element's inner HTML (or outer HTML).

    Example node:
        {"id": "html", "type": "browser.get_html", "params": {"target": "#details", "outer": true}}
    """
    async with acting(params, f"read the HTML of {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state="attached")
        if params.outer:
            html: str = await found.locator.evaluate("e => e.outerHTML", timeout=params.timeout_s * 1000)
        else:
            html = await found.locator.inner_html(timeout=params.timeout_s * 1000)
    return html


class AttributeParams(ElementParams):
    """Params of `browser.get_attribute`."""

    name: str = Field(min_length=1, description="The attribute, e.g. `href`, `data-id`, `aria-label`.")


@step(
    "browser.get_attribute",
    params=AttributeParams,
    output="The attribute's value, or null when absent.",
    capability="browser",
    effects=False,
)
async def get_attribute(params: AttributeParams) -> str | None:
    """Read one attribute of an element.

    Example node:
        {"id": "link", "type": "browser.get_attribute", "params": {"target": "a.invoice", "name": "href"}}
    """
    async with acting(params, f"read {params.name} of {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state="attached")
        value: str | None = await found.locator.get_attribute(params.name, timeout=params.timeout_s * 1000)
    return value


@step(
    "browser.get_value",
    params=ElementParams,
    output="The value: text, a boolean for a checkbox, a list for a multi-select.",
    capability="browser",
    effects=False,
)
async def get_value(params: ElementParams) -> Any:
    """Read the current value of a form field (input, textarea, select, checkbox, radio).

    Example node:
        {"id": "qty", "type": "browser.get_value", "params": {"target": "#qty"}}
    """
    script = """e => e.type === 'checkbox' || e.type === 'radio' ? e.checked
      : (e.tagName === 'SELECT' && e.multiple) ? Array.from(e.selectedOptions).map(o => o.value) : e.value"""
    async with acting(params, f"read the value of {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state="attached")
        value = await found.locator.evaluate(script, timeout=params.timeout_s * 1000)
    return value


class AllParams(PageParams):
    """Params of `browser.get_all`."""

    selector: str = Field(min_length=1, description="A selector matching any number of elements (no strict mode).")
    attribute: str | None = Field(None, description="Read this attribute instead of the text.")
    wait: bool = Field(False, description="Wait until at least one element matches (default: none is fine).")


@step(
    "browser.get_all",
    params=AllParams,
    output="A list of texts (or attribute values).",
    capability="browser",
    effects=False,
)
async def get_all(params: AllParams) -> list[Any]:
    """Read the text (or an attribute) of every element a selector matches, in page order.

    Example node:
        {"id": "names", "type": "browser.get_all", "params": {"selector": "td.name"}}
    """
    async with acting(params, f"read every {params.selector!r}", checkpoint=False) as act:
        locator = act.scope.locator(params.selector)
        if params.wait:
            await locator.first.wait_for(state="attached", timeout=params.timeout_s * 1000)
        if params.attribute:
            values: list[Any] = await locator.evaluate_all(
                "(els, a) => els.map(e => e.getAttribute(a))", params.attribute
            )
        else:
            values = await locator.all_inner_texts()
    return values


class TableParams(ElementParams):
    """Params of `browser.get_table`."""

    header: Literal["auto", "first_row", "none"] = Field(
        "auto",
        description="`auto`: <thead> rows or leading rows of <th>; `first_row`: the first row; `none`: col1, col2...",
    )
    numbers: bool = Field(False, description="Turn cells that look like numbers (`1,234.5`) into numbers.")


def _header_names(head: list[list[str]], width: int) -> list[str]:
    names: list[str] = []
    for col in range(width):
        parts: list[str] = []
        for row in head:
            cell = row[col] if col < len(row) else ""
            if cell and (not parts or parts[-1] != cell):
                parts.append(cell)
        names.append(" / ".join(parts) or f"col{col + 1}")
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _number(text: str) -> Any:
    cleaned = text.replace(",", "").replace("\u00a0", "").strip()
    try:
        return int(cleaned) if cleaned.lstrip("-").isdigit() else float(cleaned)
    except ValueError:
        return text


def table_rows(grid: dict[str, Any], header: str, numbers: bool) -> list[dict[str, Any]]:
    """Rows of a table read by `TABLE_JS`, as a list of dicts."""
    head: list[list[str]] = grid["head"]
    body: list[list[str]] = grid["body"]
    width: int = grid["width"]
    if header == "first_row" and not head and body:
        head, body = [body[0]], body[1:]
    if header == "none":
        body, head = [*head, *body], []
    names = _header_names(head, width)
    rows = []
    for cells in body:
        values = [_number(c) if numbers else c for c in cells]
        rows.append(dict(zip(names, values, strict=False)))
    return rows


@step(
    "browser.get_table",
    params=TableParams,
    output="The table's rows (a table: list of objects).",
    capability="browser",
    effects=False,
)
async def get_table(params: TableParams) -> list[dict[str, Any]]:
    """Read an HTML table into rows: header detection, colspan and rowspan spread.

    Two header rows such as `Amount` over `Value | Currency` give columns `Amount / Value` and
    `Amount / Currency`.

    Example node:
        {"id": "orders", "type": "browser.get_table", "params": {"target": "#orders", "numbers": true}}
    """
    async with acting(params, f"read the table {params.target!r}", checkpoint=False) as act:
        found = await act.find(params.target, state="attached")
        grid = await found.locator.evaluate(TABLE_JS, timeout=params.timeout_s * 1000)
    return table_rows(grid, params.header, params.numbers)


class LinksParams(PageParams):
    """Params of `browser.get_links`."""

    selector: str = Field("a[href]", description="Which links (a selector of `<a>` elements).")


@step(
    "browser.get_links",
    params=LinksParams,
    output="[{text, href, title}] (absolute URLs).",
    capability="browser",
    effects=False,
)
async def get_links(params: LinksParams) -> list[dict[str, Any]]:
    """List the links of the page (or of a part of it) with their text and absolute URL.

    Example node:
        {"id": "links", "type": "browser.get_links", "params": {"selector": "nav a"}}
    """
    async with acting(params, "read the links", checkpoint=False) as act:
        links: list[dict[str, Any]] = await act.scope.locator(params.selector).evaluate_all(LINKS_JS)
    return links


class FieldSpec(BaseModel):
    """One field of a repeated item: a selector inside the item and what to read."""

    model_config = ConfigDict(extra="forbid")
    selector: str | None = Field(None, description="CSS selector inside the item; none = the item itself.")
    attribute: str | None = Field(
        None, description="Read this attribute (`href` gives an absolute URL) instead of the text."
    )


class ItemsParams(PageParams):
    """Params of `browser.extract_items`."""

    items: str = Field(
        min_length=1, description="CSS selector of each repeated item, e.g. `.card` or `table#orders tbody tr`."
    )
    fields: dict[str, str | FieldSpec] = Field(
        description="Output field -> a CSS selector inside the item (its text) or {selector, attribute}."
    )
    next: str | None = Field(None, description="Selector of the 'next page' link or button; none = this page only.")
    max_pages: int = Field(10, ge=1, le=1000, description="Stop after this many pages.")
    max_items: int | None = Field(None, ge=1, description="Stop after this many items.")

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, value: dict[str, str | FieldSpec]) -> dict[str, str | FieldSpec]:
        if not value:
            raise ValueError("name at least one field")
        return value


async def _items_on_page(act: Acting, params: ItemsParams, fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    locator = act.scope.locator(params.items)
    await locator.first.wait_for(state="attached", timeout=params.timeout_s * 1000)
    found: list[dict[str, Any]] = await locator.evaluate_all(ITEMS_JS, fields)
    return found


async def _next_page(act: Acting, selector: str, timeout_s: float) -> bool:
    button = act.scope.locator(selector)
    if await button.count() == 0 or not await button.first.is_visible():
        return False
    before = act.page.url
    first_item_html = await act.scope.locator("body").inner_html()
    await button.first.click(timeout=timeout_s * 1000)
    await act.page.wait_for_load_state("load", timeout=timeout_s * 1000)
    if act.page.url == before:  # a page that changes in place: wait until its content did
        await act.scope.wait_for_function(
            "html => document.body.innerHTML !== html", arg=first_item_html, timeout=timeout_s * 1000
        )
    return True


@step(
    "browser.extract_items",
    params=ItemsParams,
    output="A table: one object per item, across pages.",
    capability="browser",
)
async def extract_items(params: ItemsParams) -> list[dict[str, Any]]:
    """Read repeated items (cards, rows, results) into a table, following a 'next' link page by page.

    Example node:
        {"id": "products", "type": "browser.extract_items", "params": {
          "items": ".card", "fields": {"title": ".title", "price": ".price",
                                       "url": {"selector": "a.more", "attribute": "href"}},
          "next": "a[rel=next]", "max_pages": 5}}
    """
    fields = {
        name: {"selector": spec, "attribute": None} if isinstance(spec, str) else spec.model_dump()
        for name, spec in params.fields.items()
    }
    rows: list[dict[str, Any]] = []
    async with acting(params, f"extract {params.items!r}") as act:
        for page_number in range(1, params.max_pages + 1):
            rows.extend(await _items_on_page(act, params, fields))
            if params.max_items is not None and len(rows) >= params.max_items:
                return rows[: params.max_items]
            if params.next is None or page_number == params.max_pages:
                break
            if not await _next_page(act, params.next, params.timeout_s):
                break
            context().log(f"extract_items: page {page_number + 1} at {act.page.url}")
    return rows


class ScreenshotParams(PageParams):
    """Params of `browser.screenshot`."""

    target: Target | None = Field(None, description="Only this element (default: the page).")
    full_page: bool = Field(False, description="The whole scrollable page, not just the viewport.")
    name: str = Field("screenshot.png", description="Artifact file name (`.png` or `.jpeg`).")


@step(
    "browser.screenshot",
    params=ScreenshotParams,
    output="{artifact, name, size, content_type}",
    capability="browser",
    effects=False,
)
async def screenshot(params: ScreenshotParams) -> dict[str, Any]:
    """Take a screenshot of the page or of one element, kept as an artifact.

    Example node:
        {"id": "proof", "type": "browser.screenshot", "params": {"full_page": true, "name": "order.png"}}
    """
    kind = "jpeg" if params.name.lower().endswith((".jpg", ".jpeg")) else "png"
    async with acting(params, "take a screenshot", checkpoint=False) as act:
        if params.target is not None:
            found = await act.find(params.target)
            image = await found.locator.screenshot(type=kind, timeout=params.timeout_s * 1000)
        else:
            image = await act.page.screenshot(type=kind, full_page=params.full_page, timeout=params.timeout_s * 1000)
    return context().save_artifact(params.name, image, content_type=f"image/{kind}")


class PdfParams(PageParams):
    """Params of `browser.pdf` (headless sessions only: Chromium prints PDFs headless)."""

    name: str = Field("page.pdf", description="Artifact file name.")
    format: str = Field("A4", description="Paper format: A4, Letter, Legal, A3...")
    landscape: bool = Field(False, description="Landscape orientation.")
    print_background: bool = Field(True, description="Print background colours and images.")


@step(
    "browser.pdf", params=PdfParams, output="{artifact, name, size, content_type}", capability="browser", effects=False
)
async def pdf(params: PdfParams) -> dict[str, Any]:
    """Print the active tab to PDF, kept as an artifact.

    Example node:
        {"id": "print", "type": "browser.pdf", "params": {"name": "invoice.pdf", "format": "A4"}}
    """
    async with acting(params, "print to PDF", checkpoint=False) as act:
        data = await act.page.pdf(
            format=params.format, landscape=params.landscape, print_background=params.print_background
        )
    return context().save_artifact(params.name, data, content_type="application/pdf")

"""Reading pages for real: text, HTML, attributes, tables, links, repeated items, screenshots, PDF."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.steps.browser import _actions as a
from agent.steps.browser import _extract as x
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.browser.site import SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def artifact_bytes(env: StepEnvironment, saved: dict[str, str]) -> bytes:
    return Path(env.artifacts_dir, env.execution_id, saved["artifact"]).read_bytes()


async def test_text_html_attribute_and_every_match(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/items")})
    assert await env.run(x.get_text, {"target": ".card >> nth=1 >> .title"}) == "Product 2"
    html = await env.run(x.get_html, {"target": ".card >> nth=0"})
    assert html.startswith('<h2 class="title">Product 1</h2>')
    outer = await env.run(x.get_html, {"target": ".card >> nth=0", "outer": True})
    assert outer.startswith('<div class="card">')
    assert await env.run(x.get_attribute, {"target": ".card >> nth=2 >> a.more", "name": "href"}) == "/product/3"
    assert await env.run(x.get_attribute, {"target": "#list", "name": "data-missing"}) is None
    assert await env.run(x.get_all, {"selector": ".price"}) == ["3.00", "6.00", "9.00"]
    assert await env.run(x.get_all, {"selector": "a.more", "attribute": "href"}) == [
        "/product/1",
        "/product/2",
        "/product/3",
    ]
    assert await env.run(x.get_all, {"selector": ".nothing"}) == []


async def test_strict_targets_name_how_many_matched(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    await browser_env.run(a.goto, {"url": browser_site.url("/items")})
    with pytest.raises(StepError) as err:
        await browser_env.run(x.get_text, {"target": ".card"})
    assert err.value.kind == "ambiguous_target"
    assert not err.value.retryable
    assert "3" in err.value.message


async def test_a_table_with_two_header_rows_and_colspans(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/table?page=2")})
    rows = await env.run(x.get_table, {"target": "#data", "numbers": True})
    assert list(rows[0]) == ["Who / Name", "Who / Region", "Amount / Value", "Amount / Currency"]
    assert rows[0] == {
        "Who / Name": "Item 5",
        "Who / Region": "South",
        "Amount / Value": 50.5,
        "Amount / Currency": "EUR",
    }
    assert len(rows) == 4
    plain = await env.run(x.get_table, {"target": "#plain", "header": "first_row"})
    assert plain == [{"a": "wide", "b": "wide"}]
    no_header = await env.run(x.get_table, {"target": "#plain"})
    assert no_header == [{"col1": "a", "col2": "b"}, {"col1": "wide", "col2": "wide"}]


async def test_links_are_absolute(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    await browser_env.run(a.goto, {"url": browser_site.url("/items")})
    links = await browser_env.run(x.get_links, {"selector": "nav a"})
    assert [link["text"] for link in links] == ["Form", "Table", "Out"]
    assert links[0]["href"] == browser_site.url("/form")
    assert links[2]["href"] == "https://example.invalid/x"


async def test_repeated_items_across_pages_with_limits(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    params = {
        "items": ".card",
        "fields": {"title": ".title", "price": ".price", "url": {"selector": "a.more", "attribute": "href"}},
        "next": "a[rel=next]",
    }
    await env.run(a.goto, {"url": browser_site.url("/items")})
    every = await env.run(x.extract_items, params)
    assert [item["title"] for item in every] == [f"Product {i}" for i in range(1, 8)]
    assert every[6] == {"title": "Product 7", "price": "21.00", "url": browser_site.url("/product/7")}
    await env.run(a.goto, {"url": browser_site.url("/items")})
    assert len(await env.run(x.extract_items, {**params, "max_pages": 2})) == 6
    await env.run(a.goto, {"url": browser_site.url("/items")})
    assert len(await env.run(x.extract_items, {**params, "max_items": 4})) == 4
    await env.run(a.goto, {"url": browser_site.url("/table")})
    table = await env.run(
        x.extract_items, {"items": "#data tbody tr", "fields": {"name": "td:nth-child(1)"}, "next": "#next"}
    )
    assert [row["name"] for row in table] == [f"Item {i}" for i in range(1, 13)]


async def test_screenshots_and_pdf_are_artifacts(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/table")})
    page = await env.run(x.screenshot, {"full_page": True, "name": "table.png"})
    assert artifact_bytes(env, page).startswith(b"\x89PNG")
    assert page["content_type"] == "image/png"
    element = await env.run(x.screenshot, {"target": "#data", "name": "data.jpeg"})
    assert artifact_bytes(env, element).startswith(b"\xff\xd8")
    assert element["size"] < page["size"] * 4
    printed = await env.run(x.pdf, {"name": "table.pdf"})
    assert artifact_bytes(env, printed).startswith(b"%PDF")
    assert printed["content_type"] == "application/pdf"

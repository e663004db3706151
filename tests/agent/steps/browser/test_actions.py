"""Browser actions driven for real: Chromium on the loopback test site."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.steps.browser import _actions as a
from agent.steps.browser import _extract as x
from agent.steps.browser import _session_steps as s
from agent.steps.browser import _waits as w
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.browser.site import CSV_BODY, SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


def read(path: str | Path) -> str:
    return Path(path).read_text()


async def text(env: StepEnvironment, target: str, **extra: Any) -> str:
    result: str = await env.run(x.get_text, {"target": target, **extra})
    return result


async def test_a_form_is_filled_and_posted_with_every_kind_of_field(
    browser_env: StepEnvironment, browser_site: SiteServer, tmp_path: Path
) -> None:
    env = browser_env
    upload_file = tmp_path / "invoice.txt"
    upload_file.write_text("twelve bytes")
    await env.run(a.goto, {"url": browser_site.url("/form")})
    await env.run(a.fill, {"target": "#name", "value": "Ann Lee"})
    await env.run(a.type_text, {"target": "#email", "value": "ann@example.org", "delay_ms": 5})
    await env.run(a.fill, {"target": "#qty", "value": 3})
    await env.run(a.fill, {"target": "#due", "value": "2026-12-24"})
    assert await env.run(a.select_option, {"target": "#country", "label": "Germany"}) == ["de"]
    assert await env.run(a.select_option, {"target": "#tags", "index": [0, 2]}) == ["a", "c"]
    await env.run(a.check, {"target": "#urgent"})
    await env.run(a.uncheck, {"target": "#terms"})
    await env.run(a.check, {"target": "#ship-courier"})
    await env.run(a.fill, {"target": "#notes", "value": "leave at the door"})
    assert await env.run(a.upload, {"target": "#attachment", "files": [str(upload_file)]}) == ["invoice.txt"]
    for _ in range(2):
        await env.run(a.click, {"target": "#add-row"})
    await env.run(a.fill, {"target": "input[name=item1]", "value": "Bolts"})
    await env.run(a.fill, {"target": "input[name=price1]", "value": "4.20"})
    assert await env.run(x.get_value, {"target": "#urgent"}) is True
    assert await env.run(x.get_value, {"target": "#tags"}) == ["a", "c"]
    before = len(browser_site.submissions)
    result = await env.run(a.click, {"target": "#submit"})
    assert result["url"].endswith("/submit")
    posted = browser_site.submissions[before]
    assert posted["name"] == "Ann Lee"
    assert posted["email"] == "ann@example.org"
    assert posted["qty"] == "3"
    assert posted["due"] == "2026-12-24"
    assert posted["country"] == "de"
    assert posted["tags"] == ["a", "c"]
    assert posted["urgent"] == "yes"
    assert "terms" not in posted
    assert posted["ship"] == "courier"
    assert posted["attachment"] == {"filename": "invoice.txt", "size": 12}
    assert posted["item1"] == "Bolts"
    assert posted["price1"] == "4.20"
    assert posted["item0"] == ""
    shown = json.loads(await text(env, "#received"))
    assert shown["notes"] == "leave at the door"


async def test_fill_takes_a_credential_by_name_and_logs_never_show_it(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/login")})
    await env.run(a.fill, {"target": "#user", "credential": "erp.username"})
    await env.run(a.fill, {"target": "#password", "credential": "erp.password"})
    await env.run(a.click, {"target": "#sign-in"})
    assert await text(env, "#welcome") == "Welcome, ann"
    assert all("s3cret" not in message for _level, message in env.logs)
    await env.run(a.goto, {"url": browser_site.url("/logout")})


async def test_clicks_with_buttons_counts_modifiers_and_positions(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/widgets")})
    await env.run(a.click, {"target": "#click-me", "position": {"x": 3, "y": 3}})
    await env.run(a.click, {"target": "#click-me", "click_count": 2})
    await env.run(a.click, {"target": "#click-me", "button": "right"})
    await env.run(a.click, {"target": "#click-me", "modifiers": ["Shift"]})
    log = (await text(env, "#click-log")).split()
    assert log[:4] == ["click", "click", "click", "dbl"]
    assert log[4:] == ["right", "shift", "click"]


async def test_keys_hover_focus_drag_and_scroll(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/widgets")})
    await env.run(a.press, {"target": "#keys", "key": "a"})
    await env.run(a.press, {"key": "Shift+B"})
    await env.run(a.press, {"key": "ArrowLeft", "count": 2})
    assert (await text(env, "#key-log")).split() == ["a", "Shift", "B", "ArrowLeft", "ArrowLeft"]
    with pytest.raises(StepError) as hidden:
        await env.run(a.click, {"target": "#menu-item", "timeout_s": 0.3})
    assert hidden.value.kind == "element_not_found"
    assert hidden.value.retryable
    await env.run(a.hover, {"target": "#hover-me"})
    assert await text(env, "#menu-item") == "Laptops"
    await env.run(a.focus, {"target": "#focus-me"})
    assert await text(env, "#focus-state") == "focused"
    await env.run(a.drag_and_drop, {"source": "#drag-source", "target": "#drop-target"})
    assert await text(env, "#drop-state") == "dropped"
    assert await env.run(w.evaluate, {"script": "window.scrollY"}) == 0
    await env.run(a.scroll_into_view, {"target": "#far-away"})
    assert await env.run(w.evaluate, {"script": "window.scrollY"}) > 1000


async def test_waits_for_a_late_element_a_url_a_js_condition_and_network_idle(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/late?delay=600")})
    await env.run(w.wait, {"target": "#late-button", "timeout_s": 10})
    await env.run(a.click, {"target": "#late-button"})
    assert await text(env, "#status") == "pressed"
    await env.run(a.goto, {"url": browser_site.url("/late?delay=300")})
    done = await env.run(w.wait, {"url": "**/late?state=ready", "timeout_s": 10})
    assert done["url"].endswith("state=ready")
    await env.run(a.goto, {"url": browser_site.url("/late?delay=300")})
    await env.run(w.wait, {"js": "window.appReady === true", "timeout_s": 10})
    await env.run(w.wait, {"text": "Ready", "timeout_s": 10})
    await env.run(w.wait, {"load_state": "networkidle"})
    with pytest.raises(StepError) as late:
        await env.run(w.wait, {"target": "#never", "timeout_s": 0.3})
    assert late.value.kind == "element_not_found"
    assert late.value.retryable
    assert late.value.details["url"].endswith("/late?state=ready")
    assert late.value.details["title"] == "Late"


async def test_history_back_forward_reload(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/table?page=1")})
    await env.run(a.goto, {"url": browser_site.url("/table?page=2")})
    assert (await env.run(a.back, {}))["url"].endswith("page=1")
    assert (await env.run(a.forward, {}))["url"].endswith("page=2")
    assert (await env.run(a.reload, {}))["title"] == "Table page 2"


async def test_dialogs_are_answered_as_planned_before_the_click(
    browser_env: StepEnvironment, browser_site: SiteServer
) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/dialogs")})
    await env.run(w.handle_dialog, {"action": "accept"})
    await env.run(a.click, {"target": "#confirm"})
    assert await text(env, "#result") == "confirmed"
    await env.run(a.click, {"target": "#confirm"})  # no plan left: dismissed
    assert await text(env, "#result") == "declined"
    await env.run(w.handle_dialog, {"action": "accept", "prompt_text": "Ann"})
    await env.run(a.click, {"target": "#prompt"})
    assert await text(env, "#result") == "name=Ann"
    await env.run(w.handle_dialog, {"action": "dismiss"})
    await env.run(a.click, {"target": "#alert"})
    assert await text(env, "#result") == "alerted"
    session = env.resources.get("browser:main")
    assert [d["type"] for d in session.dialogs[-4:]] == ["confirm", "confirm", "prompt", "alert"]


async def test_popups_and_new_tabs_join_the_session(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/popup")})
    await env.run(a.click, {"target": "#open-tab"})
    tab = await env.run(s.switch_tab, {"url": "*/popup-target"})
    assert tab["tabs"] == 2
    assert tab["tab"] == 1
    assert tab["title"] == "Popup target"
    assert await text(env, "#popup-title") == "Popup page"
    await env.run(s.switch_tab, {"index": 0})
    await env.run(a.click, {"target": "#open-window"})
    via_window = await env.run(s.switch_tab, {"url": "*via=window"})
    assert via_window["tabs"] == 3
    assert (await env.run(s.close_tab, {}))["tabs"] == 2
    assert (await env.run(s.close_tab, {"index": 1}))["tabs"] == 1
    opened = await env.run(s.new_tab, {"url": browser_site.url("/dialogs")})
    assert opened["tab"] == 1
    assert opened["title"] == "Dialogs"
    assert (await env.run(s.switch_tab, {"title": "Popup"}))["tab"] == 0
    await env.run(s.close_tab, {"index": 1})
    with pytest.raises(StepError) as last:
        await env.run(s.close_tab, {})
    assert "browser.close" in last.value.message
    with pytest.raises(StepError) as missing:
        await env.run(s.switch_tab, {"title": "Nothing*", "timeout_s": 0.2})
    assert missing.value.kind == "tab_not_found"


async def test_frames_by_selector_name_url_and_nested(browser_env: StepEnvironment, browser_site: SiteServer) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/frames")})
    await env.run(a.fill, {"target": "#frame-input", "value": "inside", "frame": "#inner-frame"})
    await env.run(a.click, {"target": "#frame-button", "frame": {"name": "inner"}})
    assert await text(env, "#where", frame={"url": "**/frame-inner"}) == "clicked inside"
    nested = [{"selector": "#inner-frame"}, {"name": "deep"}]
    assert await text(env, "#deep-text", frame=nested) == "deep frame"
    with pytest.raises(StepError) as missing:
        await text(env, "#x", frame={"name": "nope"}, timeout_s=0.3)
    assert missing.value.kind == "frame_not_found"


async def test_downloads_are_saved_as_files_and_artifacts(
    browser_env: StepEnvironment, browser_site: SiteServer, tmp_path: Path
) -> None:
    env = browser_env
    await env.run(a.goto, {"url": browser_site.url("/download")})
    saved = await env.run(w.download, {"target": "#csv", "save_as": f"{tmp_path}/"})
    assert saved["name"] == "report.csv"
    assert read(saved["path"]) == CSV_BODY
    assert read(env.artifacts_dir / env.execution_id / saved["artifact"]) == CSV_BODY
    blob = await env.run(w.download, {"target": "#blob", "save_as": str(tmp_path / "named.txt"), "artifact": False})
    assert read(blob["path"]) == "hello file"
    assert blob["artifact"] is None


async def test_upload_of_a_missing_file_names_it(browser_env: StepEnvironment, tmp_path: Path) -> None:
    with pytest.raises(StepError) as err:
        await browser_env.run(a.upload, {"target": "#attachment", "files": [str(tmp_path / "nope.pdf")]})
    assert err.value.kind == "file_not_found"
    assert "nope.pdf" in err.value.message

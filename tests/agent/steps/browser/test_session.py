"""Sessions for real: options, proxies, several sessions, storage, video, HAR, profiles, failures."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agent.steps.browser import _actions as a
from agent.steps.browser import _extract as x
from agent.steps.browser import _session_steps as s
from agent.steps.browser import _storage as st
from agent.steps.browser import _waits as w
from agent.steps.browser._runtime import shared_browsers, stop_playwright_for_loop
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.browser.site import PASSWORD, USER, SiteServer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module", autouse=True)
async def driver() -> AsyncIterator[None]:
    """One Playwright driver for the module, and one session kept open all along: sessions with
    the same launch options share its Chromium, so each test does not launch one (the tests that
    count Chromium processes are in test_lifecycle.py)."""
    keeper = StepEnvironment(execution_id="keeper")
    await keeper.run(s.open_, {"session": "keeper"})
    yield
    await keeper.aclose()
    await stop_playwright_for_loop()


@pytest_asyncio.fixture(loop_scope="module")
async def env(tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(
        artifacts_dir=tmp_path / "artifacts",
        secrets={"erp.username": USER, "erp.password": PASSWORD, "vault.key": "k3y-for-sealing"},
    )
    try:
        yield environment
    finally:
        await environment.aclose()


async def log_in(env: StepEnvironment, site: SiteServer, session: str = "main") -> None:
    await env.run(a.goto, {"session": session, "url": site.url("/login")})
    await env.run(a.fill, {"session": session, "target": "#user", "credential": "erp.username"})
    await env.run(a.fill, {"session": session, "target": "#password", "credential": "erp.password"})
    await env.run(a.click, {"session": session, "target": "#sign-in"})


async def headers(env: StepEnvironment, url: str, session: str = "main") -> dict[str, Any]:
    await env.run(a.goto, {"session": session, "url": url})
    loaded: dict[str, Any] = json.loads(await env.run(x.get_text, {"session": session, "target": "pre, body >> nth=0"}))
    return loaded


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def files_in(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.rglob(pattern))


async def test_locale_time_zone_user_agent_and_viewport(env: StepEnvironment, browser_site: SiteServer) -> None:
    opened = await env.run(
        s.open_,
        {
            "url": browser_site.url("/"),
            "locale": "fr-FR",
            "timezone": "Asia/Tokyo",
            "user_agent": "rpa-test-agent/1.0",
            "viewport": {"width": 900, "height": 600},
        },
    )
    assert opened["title"] == "Home"
    assert await env.run(w.evaluate, {"script": "Intl.DateTimeFormat().resolvedOptions().timeZone"}) == "Asia/Tokyo"
    assert await env.run(w.evaluate, {"script": "[innerWidth, innerHeight, navigator.language]"}) == [900, 600, "fr-FR"]
    sent = await headers(env, browser_site.url("/echo-headers"))
    assert sent["User-Agent"] == "rpa-test-agent/1.0"
    assert sent["Accept-Language"].startswith("fr-FR")


async def test_a_proxy_list_is_rotated_per_session(env: StepEnvironment, browser_site: SiteServer) -> None:
    # Each test site is also a plain HTTP proxy: it serves absolute-form requests by their path.
    with SiteServer() as second:
        proxies = [{"server": browser_site.base_url}, {"server": second.base_url}]
        seen = []
        for name in ("p1", "p2", "p3"):
            await env.run(s.open_, {"session": name, "proxy": proxies})
        for name in ("p1", "p2", "p3"):
            await env.run(a.goto, {"session": name, "url": "http://proxied.invalid/form"})
            await env.run(a.click, {"session": name, "target": "#submit"})
            seen.append((len(browser_site.submissions), len(second.submissions)))
        assert shared_browsers.open_count() == 1  # three sessions, one Chromium
    first, after_second, after_third = seen
    assert after_second[1] == first[1] + 1  # the second session went through the second proxy
    assert after_third[0] == after_second[0] + 1  # the third through the first again
    assert first != after_second


async def test_several_named_sessions_keep_their_own_cookies(env: StepEnvironment, browser_site: SiteServer) -> None:
    await env.run(s.open_, {"session": "alice"})
    await env.run(s.open_, {"session": "bob"})
    await log_in(env, browser_site, "alice")
    await env.run(a.goto, {"session": "bob", "url": browser_site.url("/account")})
    assert (await env.run(a.goto, {"session": "alice", "url": browser_site.url("/account")}))["title"] == "Account"
    assert (await env.run(x.get_text, {"session": "bob", "target": "h1"})) == "Sign in"
    with pytest.raises(StepError) as twice:
        await env.run(s.open_, {"session": "bob"})
    assert twice.value.kind == "session_exists"
    assert await env.run(s.close, {"session": "bob"}) is True
    assert await env.run(s.close, {"session": "bob"}) is False
    with pytest.raises(StepError) as gone:
        await env.run(a.goto, {"session": "bob", "url": browser_site.url("/")})
    assert gone.value.kind == "no_session"
    assert "browser.open" in gone.value.message


async def test_storage_is_saved_sealed_restored_and_cleared(
    env: StepEnvironment, browser_site: SiteServer, tmp_path: Path
) -> None:
    await env.run(s.open_, {})
    await log_in(env, browser_site)
    await env.run(w.evaluate, {"script": "localStorage.setItem('theme', 'dark')"})
    cookies = await env.run(st.get_cookies, {})
    assert [(c["name"], c["http_only"]) for c in cookies] == [("sid", True)]
    assert all("value" not in c for c in cookies)
    plain = await env.run(st.save_storage, {"path": str(tmp_path / "state.json")})
    assert plain["cookies"] == 1
    assert stat.S_IMODE(os.stat(plain["path"]).st_mode) == 0o600
    sealed = await env.run(st.save_storage, {"credential": "vault.key", "name": "erp-login.json"})
    sealed_file = env.artifacts_dir / env.execution_id / sealed["artifact"]
    assert all(value.encode() not in sealed_file.read_bytes() for value in _server_sids(browser_site))
    await env.run(st.clear_storage, {})
    assert await env.run(st.get_cookies, {}) == []
    await env.run(a.goto, {"url": browser_site.url("/account")})
    assert await env.run(x.get_text, {"target": "h1"}) == "Sign in"
    await env.run(st.restore_storage, {"path": str(sealed_file), "credential": "vault.key", "reload": False})
    await env.run(a.goto, {"url": browser_site.url("/account")})
    assert await env.run(x.get_text, {"target": "#welcome"}) == "Welcome, ann"
    assert await env.run(w.evaluate, {"script": "localStorage.getItem('theme')"}) == "dark"
    await env.run(s.close, {})
    await env.run(s.open_, {"storage_state": plain["path"], "url": browser_site.url("/account")})
    assert await env.run(x.get_text, {"target": "#welcome"}) == "Welcome, ann"


def _server_sids(site: SiteServer) -> list[str]:
    return list(site._server.sessions)


async def test_video_and_har_are_artifacts_and_the_video_has_frames(
    env: StepEnvironment, browser_site: SiteServer
) -> None:
    import imageio_ffmpeg

    await env.run(s.open_, {"url": browser_site.url("/late?delay=300"), "record_video": True, "record_har": True})
    await env.run(w.wait, {"target": "#late-button"})
    await env.run(a.click, {"target": "#late-button"})
    await env.run(a.goto, {"url": browser_site.url("/table")})
    await env.aclose()
    videos = files_in(env.artifacts_dir, "video-main-*.webm")
    assert len(videos) == 1
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(videos[0]))
    assert frames > 0
    assert seconds > 0
    (har,) = files_in(env.artifacts_dir, "traffic-main.har")
    entries = json.loads(har.read_text())["log"]["entries"]
    assert any(entry["request"]["url"].endswith("/table") for entry in entries)


async def test_a_profile_keeps_the_login_between_two_runs(browser_site: SiteServer, tmp_path: Path) -> None:
    profile = tmp_path / "profile"
    first = StepEnvironment(execution_id="run-1", secrets={"erp.username": USER, "erp.password": PASSWORD})
    await first.run(s.open_, {"profile_dir": str(profile)})
    await log_in(first, browser_site)
    await first.aclose()
    second = StepEnvironment(execution_id="run-2")
    try:
        await second.run(s.open_, {"profile_dir": str(profile), "url": browser_site.url("/account")})
        assert await second.run(x.get_text, {"target": "#welcome"}) == "Welcome, ann"
    finally:
        await second.aclose()
    third = StepEnvironment(execution_id="run-3")
    try:
        await third.run(s.open_, {"url": browser_site.url("/account")})
        assert await third.run(x.get_text, {"target": "h1"}) == "Sign in"
    finally:
        await third.aclose()


async def test_a_failure_carries_a_screenshot_url_and_title_but_no_secret(
    env: StepEnvironment, browser_site: SiteServer
) -> None:
    await env.run(s.open_, {"url": browser_site.url("/login")})
    await env.run(a.fill, {"target": "#password", "credential": "erp.password"})
    with pytest.raises(StepError) as err:
        await env.run(a.fill, {"target": "#no-such-field", "credential": "erp.password", "timeout_s": 0.3})
    details = err.value.details
    assert details["url"] == browser_site.url("/login")
    assert details["title"] == "Login"
    shot = env.artifacts_dir / env.execution_id / details["screenshot"]
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert PASSWORD not in err.value.message
    assert PASSWORD not in json.dumps(err.value.to_dict())


async def test_errors_say_what_is_wrong(env: StepEnvironment, browser_site: SiteServer) -> None:
    await env.run(s.open_, {"url": browser_site.url("/form")})
    with pytest.raises(StepError) as checked:
        await env.run(a.click, {"target": "css=##broken((", "timeout_s": 1})
    assert checked.value.kind == "validation"
    with pytest.raises(StepError) as bad:
        await env.run(x.get_all, {"selector": "##broken(("})
    assert bad.value.kind == "invalid_selector"
    assert not bad.value.retryable
    with pytest.raises(StepError) as refused:
        await env.run(a.goto, {"url": "http://127.0.0.1:9/", "timeout_s": 5})
    assert refused.value.kind == "navigation"
    assert refused.value.retryable
    with pytest.raises(StepError) as no_display:
        await env.run(s.open_, {"session": "headed", "headless": False})
    assert "display" in no_display.value.message


async def test_the_session_checkpoint_is_private_and_goes_with_the_session(
    env: StepEnvironment, browser_site: SiteServer, browser_state_dir: Path
) -> None:
    await env.run(s.open_, {"url": browser_site.url("/")})
    await log_in(env, browser_site)
    (note_kind, note), *_ = env.notes
    assert note_kind == "browser.checkpoint"
    checkpoint = browser_state_dir / note["file"]
    assert mode(checkpoint) == 0o600
    assert mode(browser_state_dir) == 0o700
    saved = json.loads(checkpoint.read_text())
    assert saved["url"] == browser_site.url("/account")
    assert [c["name"] for c in saved["storage_state"]["cookies"]] == ["sid"]
    await env.run(s.close, {})
    assert not checkpoint.exists()

"""`browser.solve_captcha` against a local 2captcha-style service and real Chromium pages."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from agent.steps.browser._captcha import solve_captcha
from shared.errors import StepError
from shared.steps import StepEnvironment
from tests.agent.steps.browser.captcha_service import BROKE_KEY, GOOD_KEY, FakeCaptchaService, fake_captcha_service
from tests.agent.steps.browser.targets_support import browser_context, chromium, page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["browser_context", "chromium", "page"]

FAST = {"first_poll_s": 0, "poll_interval_s": 0.05}


@pytest.fixture
def service() -> Iterator[FakeCaptchaService]:
    with fake_captcha_service() as running:
        yield running


def session_env(page: Any, key: str = GOOD_KEY) -> StepEnvironment:
    env = StepEnvironment(secrets={"captcha.api_key": key})
    env.resources.put("browser:main", SimpleNamespace(page=page))
    return env


async def test_recaptcha_token_is_injected_and_the_callback_called(page: Any, service: FakeCaptchaService) -> None:
    await page.goto(f"{service.url}/recaptcha")
    env = session_env(page)
    out = await env.run(solve_captcha, {"credential": "captcha.api_key", "service_url": service.url, **FAST})
    assert out == {"kind": "recaptcha_v2", "captcha_id": "7231945003", "answer": service.token}
    assert await page.input_value("#g-recaptcha-response") == service.token
    assert await page.evaluate("window.solvedWith") == service.token
    submit, *polls = service.requests
    assert submit == {
        "path": "/in.php",
        "key": GOOD_KEY,
        "json": "1",
        "method": "userrecaptcha",
        "googlekey": "6LeTestSiteKey-000",
        "pageurl": f"{service.url}/recaptcha",
    }
    assert [p["path"] for p in polls] == ["/res.php"] * 3
    assert all(p["action"] == "get" and p["id"] == "7231945003" for p in polls)
    assert not any(GOOD_KEY in message for _, message in env.logs)


async def test_hcaptcha_and_invisible_recaptcha_tasks(page: Any, service: FakeCaptchaService) -> None:
    await page.goto(f"{service.url}/hcaptcha")
    env = session_env(page)
    out = await env.run(
        solve_captcha, {"credential": "captcha.api_key", "service_url": service.url, "kind": "hcaptcha", **FAST}
    )
    assert out["answer"] == service.token
    assert service.requests[0]["method"] == "hcaptcha"
    assert service.requests[0]["sitekey"] == "10000000-ffff-ffff-ffff-000000000001"
    assert await page.input_value("textarea[name=h-captcha-response]") == service.token
    assert await page.input_value("textarea[name=g-recaptcha-response]") == service.token
    assert await page.evaluate("window.solvedWith") == service.token

    await page.goto(f"{service.url}/recaptcha")
    service.requests.clear()
    params = {"credential": "captcha.api_key", "service_url": service.url, "invisible": True, "enterprise": True}
    await env.run(solve_captcha, {**params, **FAST})
    assert (service.requests[0]["invisible"], service.requests[0]["enterprise"]) == ("1", "1")


async def test_image_captcha_is_sent_as_png_and_the_answer_typed(page: Any, service: FakeCaptchaService) -> None:
    await page.goto(f"{service.url}/image")
    env = session_env(page)
    out = await env.run(
        solve_captcha,
        {
            "credential": "captcha.api_key",
            "service_url": service.url,
            "kind": "image",
            "image": "#captcha",
            "answer_field": {"selector": "input", "anchor": {"text": "Code", "relation": "near"}},
            **FAST,
        },
    )
    assert out["answer"] == "W9H5K"
    assert await page.input_value("input[name=code]") == "W9H5K"
    assert service.requests[0]["method"] == "base64"


@pytest.mark.parametrize(
    ("key", "poll_error", "kind", "retryable", "words"),
    [
        ("k-wrong", None, "credential", False, "the API key does not exist (ERROR_KEY_DOES_NOT_EXIST)"),
        (BROKE_KEY, None, "captcha_balance", False, "no balance left (ERROR_ZERO_BALANCE)"),
        (GOOD_KEY, "ERROR_CAPTCHA_UNSOLVABLE", "captcha_unsolvable", True, "could not solve it"),
        (GOOD_KEY, "ERROR_SOMETHING_NEW", "captcha_service", False, "(ERROR_SOMETHING_NEW)"),
    ],
)
async def test_service_errors_are_mapped(
    page: Any, service: FakeCaptchaService, key: str, poll_error: str | None, kind: str, retryable: bool, words: str
) -> None:
    await page.goto(f"{service.url}/recaptcha")
    service.poll_error = poll_error
    env = session_env(page, key)
    with pytest.raises(StepError) as caught:
        await env.run(solve_captcha, {"credential": "captcha.api_key", "service_url": service.url, **FAST})
    assert (caught.value.kind, caught.value.retryable) == (kind, retryable)
    assert words in caught.value.message
    assert key not in caught.value.message
    assert not any(r["path"] == "query!" for r in service.requests)


async def test_no_answer_in_time_is_a_retryable_timeout(page: Any, service: FakeCaptchaService) -> None:
    await page.goto(f"{service.url}/recaptcha")
    service.not_ready_polls = 10**6
    env = session_env(page)
    params = {"credential": "captcha.api_key", "service_url": service.url, **FAST, "timeout_s": 0.3}
    with pytest.raises(StepError) as caught:
        await env.run(solve_captcha, params)
    assert (caught.value.kind, caught.value.retryable) == ("timeout", True)
    assert "no answer for task 7231945003 after 0.3 s" in caught.value.message
    assert len(service.requests) >= 3


async def test_an_unreachable_service_is_retryable(page: Any, service: FakeCaptchaService) -> None:
    await page.goto(f"{service.url}/recaptcha")
    env = session_env(page)
    with pytest.raises(StepError) as caught:
        await env.run(solve_captcha, {"credential": "captcha.api_key", "service_url": "http://127.0.0.1:9", **FAST})
    assert (caught.value.kind, caught.value.retryable) == ("captcha_service", True)


async def test_a_page_without_recaptcha_and_a_missing_session_say_so(page: Any, service: FakeCaptchaService) -> None:
    await page.goto(f"{service.url}/image")
    env = session_env(page)
    with pytest.raises(StepError) as caught:
        await env.run(solve_captcha, {"credential": "captcha.api_key", "service_url": service.url, **FAST})
    assert caught.value.kind == "captcha_not_found"
    assert service.requests == []
    with pytest.raises(StepError) as caught:
        await StepEnvironment(secrets={"captcha.api_key": GOOD_KEY}).run(
            solve_captcha, {"credential": "captcha.api_key", "session": "other"}
        )
    assert "no browser session named 'other'" in caught.value.message
    with pytest.raises(StepError) as caught:
        await env.run(solve_captcha, {"credential": "nope", "service_url": service.url})
    assert caught.value.kind == "credential"


async def test_an_image_captcha_without_its_image_is_invalid() -> None:
    from agent.steps.browser._captcha import SolveCaptchaParams

    with pytest.raises(ValueError, match="needs 'image'"):
        SolveCaptchaParams(credential="c", kind="image")
    with pytest.raises(ValueError, match="must be reached over https"):
        SolveCaptchaParams(credential="c", service_url="http://solver.example")
    assert SolveCaptchaParams(credential="c", service_url="http://localhost:8000").service_url

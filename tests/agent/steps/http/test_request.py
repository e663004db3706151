"""`http.request` against a real server on loopback: bodies, auth kinds, retries, errors, TLS."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agent.steps.http import request
from shared.errors import StepCancelled, StepError
from shared.steps import StepEnvironment
from tests.agent.steps.http import server as srv
from tests.agent.steps.http.tls import Pki


async def test_json_body_query_and_headers_reach_the_server(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    out = await env.run(
        request,
        {
            "method": "POST",
            "url": f"{server.url}/echo?z=0",
            "query": {"a": 1, "tag": ["x", "y"]},
            "headers": {"X-Trace": "t-1"},
            "json_body": {"sku": "A-1", "qty": 2},
        },
    )
    assert out["status"] == 200
    assert out["text"] is None
    body = out["json"]
    assert body["method"] == "POST"
    assert body["json"] == {"sku": "A-1", "qty": 2}
    assert body["query"] == [["z", "0"], ["a", "1"], ["tag", "x"], ["tag", "y"]]
    assert body["headers"]["x-trace"] == "t-1"
    assert out["headers"]["content-type"] == "application/json"


async def test_cookies_are_kept_for_the_execution_but_not_output(
    env: StepEnvironment, server: srv.LoopbackSite
) -> None:
    first = await env.run(request, {"url": f"{server.url}/echo?cookie=sess-Secret-5"})
    assert first["headers"]["set-cookie"] == "(hidden: kept in the execution's cookie jar)"
    assert "sess-Secret-5" not in str(first["headers"])
    second = await env.run(request, {"url": f"{server.url}/echo"})
    assert second["json"]["headers"]["cookie"] == "session=sess-Secret-5"


@pytest.mark.parametrize(
    ("content_type", "as_json"),
    [("application/problem+json; charset=utf-8", True), ("Application/JSON", True), ("text/plain", False)],
)
async def test_answer_headers_are_lower_cased_repeats_joined_and_the_type_decides_json(
    env: StepEnvironment, server: srv.LoopbackSite, content_type: str, as_json: bool
) -> None:
    answer = await env.run(request, {"url": f"{server.url}/typed", "query": {"type": content_type}})

    assert answer["headers"]["x-tag"] == "a, b"
    assert answer["headers"]["content-type"] == content_type
    assert (answer["json"], answer["text"]) == (({"ok": True}, None) if as_json else (None, '{"ok": true}'))


async def test_form_and_multipart_bodies(env: StepEnvironment, server: srv.LoopbackSite, tmp_path: Path) -> None:
    form = await env.run(request, {"method": "POST", "url": f"{server.url}/echo", "form": {"name": "Ann", "n": 3}})
    assert form["json"]["form"] == {"name": "Ann", "n": "3"}

    upload = tmp_path / "invoice.csv"
    upload.write_text("id,amount\n1,12.5\n")
    multi = await env.run(
        request,
        {
            "method": "POST",
            "url": f"{server.url}/echo",
            "form": {"kind": "invoice"},
            "files": [{"field": "doc", "path": str(upload)}],
        },
    )
    assert multi["json"]["form"] == {"kind": "invoice"}
    assert multi["json"]["files"]["doc"] == {
        "filename": "invoice.csv",
        "content_type": "text/csv",
        "size": upload.stat().st_size,
        "text": "id,amount\n1,12.5\n",
    }


async def test_text_answers_come_back_as_text(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    out = await env.run(
        request, {"method": "PUT", "url": f"{server.url}/echo", "content": "plain words", "response": "json"}
    )
    assert out["json"]["text"] == "plain words"
    status = await env.run(request, {"url": f"{server.url}/status/404", "accept_status": [404]})
    assert status["status"] == 404
    assert status["text"] == "x" * 2000


@pytest.mark.parametrize(
    ("path", "auth"),
    [
        ("/basic", {"kind": "basic", "credential": "site"}),
        ("/bearer", {"kind": "bearer", "credential": "api"}),
        ("/apikey", {"kind": "api_key", "credential": "key", "header": "X-API-Key"}),
        ("/apikey", {"kind": "api_key", "credential": "key", "query": "api_key"}),
    ],
)
async def test_each_auth_kind_opens_its_door(
    env: StepEnvironment, server: srv.LoopbackSite, path: str, auth: dict[str, str]
) -> None:
    with pytest.raises(StepError) as refused:  # control: the door is shut without credentials
        await env.run(request, {"url": f"{server.url}{path}", "retries": 0})
    assert refused.value.details["status"] in (401, 403)
    assert refused.value.retryable is False
    out = await env.run(request, {"url": f"{server.url}{path}", "auth": auth})
    assert out["status"] == 200


async def test_oauth2_token_is_fetched_once_per_execution_and_renewed_after_401(
    env: StepEnvironment, server: srv.LoopbackSite
) -> None:
    auth = {
        "kind": "oauth2_client_credentials",
        "credential": "oauth",
        "token_url": f"{server.url}/oauth/token",
        "scope": "read",
    }
    before = server.tokens_issued
    first = await env.run(request, {"url": f"{server.url}/oauth/resource", "auth": auth})
    second = await env.run(request, {"url": f"{server.url}/oauth/resource", "auth": auth})
    assert first["json"]["token"] == second["json"]["token"]
    assert server.tokens_issued == before + 1
    await env.run(request, {"method": "POST", "url": f"{server.url}/oauth/revoke"})
    third = await env.run(request, {"url": f"{server.url}/oauth/resource", "auth": auth})
    assert third["json"]["token"] != first["json"]["token"]
    assert server.tokens_issued == before + 2


@pytest.mark.parametrize("client_auth", ["body", "basic"])
async def test_oauth2_client_authentication_in_body_or_basic(
    env: StepEnvironment, server: srv.LoopbackSite, client_auth: str
) -> None:
    auth = {
        "kind": "oauth2_client_credentials",
        "credential": "oauth",
        "token_url": f"{server.url}/oauth/token",
        "client_auth": client_auth,
        "audience": client_auth,
    }
    out = await env.run(request, {"url": f"{server.url}/oauth/resource", "auth": auth})
    assert out["json"]["token"].startswith("issued-")


async def test_a_refused_token_request_is_an_auth_error(tmp_path: Path, server: srv.LoopbackSite) -> None:
    wrong = StepEnvironment(
        secrets={"oauth.client_id": srv.CLIENT_ID, "oauth.client_secret": "wrong"}, artifacts_dir=tmp_path
    )
    auth = {"kind": "oauth2_client_credentials", "credential": "oauth", "token_url": f"{server.url}/oauth/token"}
    try:
        with pytest.raises(StepError) as refused:
            await wrong.run(request, {"url": f"{server.url}/oauth/resource", "auth": auth})
    finally:
        await wrong.aclose()
    assert refused.value.kind == "auth"
    assert refused.value.retryable is False
    assert "'oauth'" in refused.value.message


async def test_missing_credential_is_a_clear_non_retryable_error(
    env: StepEnvironment, server: srv.LoopbackSite
) -> None:
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": f"{server.url}/bearer", "auth": {"kind": "bearer", "credential": "nope"}})
    assert failed.value.kind == "credential"
    assert "nope" in failed.value.message
    assert failed.value.retryable is False


async def test_503_then_200_is_retried_for_get(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    out = await env.run(request, {"url": f"{server.url}/flaky/get?fails=2", "backoff_s": 0.01})
    assert out["json"] == {"tries": 3}
    assert [level for level, _ in env.logs].count("warning") == 2


async def test_post_is_not_retried_unless_asked(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    with pytest.raises(StepError) as failed:
        await env.run(request, {"method": "POST", "url": f"{server.url}/flaky/post?fails=1", "backoff_s": 0.01})
    assert failed.value.details["status"] == 503
    assert failed.value.retryable is True
    assert len(server.hits["/flaky/post"]) == 1
    out = await env.run(
        request,
        {"method": "POST", "url": f"{server.url}/flaky/post2?fails=1", "backoff_s": 0.01, "retry_non_idempotent": True},
    )
    assert out["status"] == 200
    assert len(server.hits["/flaky/post2"]) == 2


@pytest.mark.parametrize("style", ["seconds", "date"])
async def test_429_waits_as_long_as_retry_after_says(
    env: StepEnvironment, server: srv.LoopbackSite, style: str
) -> None:
    path = f"/limited/{style}"
    out = await env.run(request, {"url": f"{server.url}{path}?style={style}", "backoff_s": 0.01})
    assert out["status"] == 200
    first, second = server.hits[path]
    # Retry-After is 1 s (or a date 2 s ahead, read with one-second precision): the backoff
    # alone (10 ms) would have come back far sooner.
    assert second - first >= 0.9


async def test_cancelling_stops_the_wait_before_a_retry(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    path = "/limited/cancelled"
    running = asyncio.ensure_future(env.run(request, {"url": f"{server.url}{path}?after=30"}))
    for _ in range(3000):  # until the server has answered 429 once
        if server.hits[path]:
            break
        await asyncio.sleep(0.01)
    env.cancel()
    with pytest.raises(StepCancelled):
        await running
    assert len(server.hits[path]) == 1


async def test_a_retry_after_longer_than_max_wait_fails_at_once(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": f"{server.url}/limited/long", "max_wait_s": 0.5})
    assert failed.value.details["status"] == 429
    assert failed.value.details["retry_after"] == 1.0
    assert failed.value.retryable is True
    assert len(server.hits["/limited/long"]) == 1


async def test_the_error_after_the_last_try_carries_retry_after_for_the_engine(
    env: StepEnvironment, server: srv.LoopbackSite
) -> None:
    # The node's own retry policy then waits that long (shared/engine/_retry.py).
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": f"{server.url}/limited/spent?after=3", "retries": 0})
    assert failed.value.details["status"] == 429
    assert failed.value.details["retry_after"] == 3.0
    assert isinstance(failed.value.details["retry_after"], float)


async def test_non_2xx_is_an_error_with_status_and_a_cut_body(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": f"{server.url}/status/422?token=abc"})
    error = failed.value
    assert error.kind == "http_status"
    assert error.retryable is False
    assert error.details["status"] == 422
    assert len(error.details["body"]) == 501
    assert "422" in error.message
    assert "token=abc" not in error.message
    assert error.details["url"] == f"{server.url}/status/422"


async def test_timeout_is_a_retryable_timeout(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    started = time.monotonic()
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": f"{server.url}/slow?delay=3", "timeout_s": 0.2, "retries": 0})
    assert failed.value.kind == "timeout"
    assert failed.value.retryable is True
    assert time.monotonic() - started < 3


async def test_connection_refused_is_retried_then_a_retryable_connection_error(env: StepEnvironment) -> None:
    url = f"http://127.0.0.1:{srv.free_port()}/nothing"
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": url, "retries": 2, "backoff_s": 0.01})
    assert failed.value.kind == "connection"
    assert failed.value.retryable is True
    assert sum(1 for level, _ in env.logs if level == "warning") == 2


async def test_one_client_serves_every_step_of_an_execution(env: StepEnvironment, server: srv.LoopbackSite) -> None:
    for _ in range(3):
        await env.run(request, {"url": f"{server.url}/echo"})
    clients = [key for key in tuple(env.resources.keys()) if key.startswith("http:client:")]
    assert len(clients) == 1
    client = env.resources.get(clients[0])
    await env.aclose()
    assert client.is_closed


def test_bad_params_are_refused_before_a_run() -> None:
    from agent.steps.http._models import RequestParams

    with pytest.raises(ValueError, match="http:// or https://"):
        RequestParams.model_validate({"url": "ftp://example.com"})
    with pytest.raises(ValueError, match="one body"):
        RequestParams.model_validate({"url": "http://x", "json_body": {}, "content": "a"})
    with pytest.raises(ValueError, match="exactly one"):
        RequestParams.model_validate({"url": "http://x", "auth": {"kind": "api_key", "credential": "k"}})


async def test_tls_with_ca_bundle_and_client_certificate(
    env: StepEnvironment, tls_server: srv.LoopbackSite, pki: Pki
) -> None:
    url = f"{tls_server.url}/client-cert"
    tls = {"ca_bundle": str(pki.ca_file), "client_cert": "robot_cert"}
    out = await env.run(request, {"url": url, "tls": tls})
    assert out["json"] == {"ok": True}

    with pytest.raises(StepError) as untrusted:  # the system CAs do not know the test CA
        await env.run(request, {"url": url, "tls": {"client_cert": "robot_cert"}})
    assert untrusted.value.kind == "tls"
    assert untrusted.value.retryable is False

    with pytest.raises(StepError) as wrong_ca:
        await env.run(request, {"url": url, "tls": {"ca_bundle": str(pki.other_ca_file), "client_cert": "robot_cert"}})
    assert wrong_ca.value.kind == "tls"

    with pytest.raises(StepError) as no_cert:  # the server requires a client certificate
        await env.run(request, {"url": url, "tls": {"ca_bundle": str(pki.ca_file)}, "retries": 0})
    assert no_cert.value.kind in ("tls", "connection")
    assert pki.client_key_pem not in str(env.logs)


@pytest.mark.parametrize("url", ["http://example.com:abc/x?key=abc", "http://[::1/x?key=abc"])
async def test_a_url_httpx_cannot_read_is_a_validation_error(env: StepEnvironment, url: str) -> None:
    with pytest.raises(StepError) as failed:
        await env.run(request, {"url": url})
    assert failed.value.kind == "validation"
    assert failed.value.retryable is False
    assert "key=abc" not in failed.value.message

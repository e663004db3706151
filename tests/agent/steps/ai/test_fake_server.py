"""The Messages-API stand-in answers the real SDK the way the hosted API does."""

from __future__ import annotations

import pytest

from tests.fakes.anthropic_server import FakeAnthropic, error, tool_use

MSG = [{"role": "user", "content": "hi"}]


def test_sdk_reads_tool_use_usage_and_errors() -> None:
    import anthropic

    with FakeAnthropic(keys={"k"}) as api:
        client = anthropic.Anthropic(api_key="k", base_url=api.url, max_retries=0, timeout=5)
        api.push(tool_use({"a": 1}, input_tokens=7), error(429, retry_after=2), error(529))
        reply = client.messages.create(model="m", max_tokens=10, messages=MSG)  # type: ignore[arg-type]
        assert reply.stop_reason == "tool_use"
        assert reply.usage.input_tokens == 7
        with pytest.raises(anthropic.RateLimitError) as rate:
            client.messages.create(model="m", max_tokens=10, messages=MSG)  # type: ignore[arg-type]
        assert rate.value.response.headers["retry-after"] == "2"
        with pytest.raises(anthropic.InternalServerError) as busy:
            client.messages.create(model="m", max_tokens=10, messages=MSG)  # type: ignore[arg-type]
        assert busy.value.status_code == 529
        bad = anthropic.Anthropic(api_key="bad", base_url=api.url, max_retries=0, timeout=5)
        with pytest.raises(anthropic.AuthenticationError):
            bad.messages.create(model="m", max_tokens=10, messages=MSG)  # type: ignore[arg-type]
        assert [r.api_key for r in api.requests] == ["k", "k", "k", "bad"]

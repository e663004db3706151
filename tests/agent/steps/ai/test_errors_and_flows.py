"""`ai.*` errors are clear and correctly retryable, `ai.decide` routes a real flow, and the API
key never shows in logs, journal events or errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from agent.steps.ai import generate, summarize
from shared.engine import Engine, MemoryJournal
from shared.errors import StepError
from shared.flow import Flow
from shared.steps import StepEnvironment
from tests.agent.steps.ai.conftest import KEY, base
from tests.fakes.anthropic_server import FakeAnthropic, error, text

PROMPT = {"prompt": "hello"}


@pytest.mark.parametrize(
    ("reply", "kind", "retryable", "words"),
    [
        (error(429, "slow down", retry_after=7), "rate_limited", True, "rate limit reached (429: slow down)"),
        (error(529, "Overloaded"), "overloaded", True, "overloaded or failing (529"),
        (error(500), "overloaded", True, "(500"),
        (error(400, "messages: field required"), "invalid_request", False, "(400: messages: field required)"),
        (error(403), "authentication", False, "rejected the API key (403"),
        (text("", stop_reason="refusal"), "refusal", False, "refused the request (stop_reason refusal)"),
    ],
)
async def test_api_errors_are_mapped_with_the_right_retryable(
    fake: FakeAnthropic, env: StepEnvironment, reply: Any, kind: str, retryable: bool, words: str
) -> None:
    fake.push(reply)
    with pytest.raises(StepError) as err:
        await env.run(generate, base(fake, **PROMPT))
    assert (err.value.kind, err.value.retryable) == (kind, retryable)
    assert words in str(err.value)
    assert kind == "refusal" or fake.url in str(err.value)
    if kind == "rate_limited":
        assert err.value.details["retry_after"] == 7.0
    else:
        assert "retry_after" not in err.value.details  # none sent: the key is absent, not None


async def test_an_overloaded_answer_with_retry_after_carries_it(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(error(529, retry_after=2.5))
    with pytest.raises(StepError) as err:
        await env.run(generate, base(fake, **PROMPT))
    assert (err.value.kind, err.value.details["retry_after"]) == ("overloaded", 2.5)


async def test_sdk_retries_are_the_steps_own(fake: FakeAnthropic, env: StepEnvironment) -> None:
    fake.push(error(529, retry_after=0), text("fine"))
    out = await env.run(generate, base(fake, max_retries=1, **PROMPT))
    assert out["text"] == "fine"
    assert len(fake.requests) == 2


async def test_a_bad_key_is_not_retryable_and_not_shown(fake: FakeAnthropic, tmp_path: Path) -> None:
    bad = "sk-ant-wrong-1234567890"
    env = StepEnvironment(secrets={"anthropic": bad}, artifacts_dir=tmp_path, mask=lambda v: str(v).replace(bad, "***"))
    try:
        with pytest.raises(StepError) as err:
            await env.run(generate, base(fake, max_retries=2, **PROMPT))
    finally:
        await env.aclose()
    assert (err.value.kind, err.value.retryable) == ("authentication", False)
    assert len(fake.requests) == 1  # the SDK does not retry a 401
    assert bad not in repr(err.value) + json.dumps(err.value.details) + repr(env.logs)


async def test_no_network_is_retryable_and_says_where(env: StepEnvironment) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(StepError) as err:
        await env.run(
            generate, {"credential": "anthropic", "base_url": f"http://127.0.0.1:{port}", "max_retries": 0, **PROMPT}
        )
    assert (err.value.kind, err.value.retryable) == ("network", True)
    assert f"127.0.0.1:{port}" in str(err.value)


async def test_missing_key_and_unknown_credential(
    fake: FakeAnthropic, env: StepEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(StepError, match="no Anthropic API key") as err:
        await env.run(generate, {"base_url": fake.url, **PROMPT})
    assert not err.value.retryable
    with pytest.raises(StepError, match="no credential or secret named 'nope'"):
        await env.run(generate, {"credential": "nope", "base_url": fake.url, **PROMPT})


async def test_key_and_base_url_from_the_environment(
    fake: FakeAnthropic, env: StepEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
    fake.push(text("from env"))
    out = await env.run(summarize, {"text": "t", "max_retries": 0})
    assert out["text"] == "from env"
    assert fake.requests[0].api_key == KEY


def _decide_flow(url: str) -> Flow:
    ai = {"credential": "anthropic", "base_url": url, "max_retries": 0, "timeout": 10}
    return Flow.model_validate(
        {
            "schema": "rpa.flow/1",
            "name": "route a mail",
            "nodes": [
                {
                    "id": "route",
                    "type": "ai.decide",
                    "params": {**ai, "text": "{{ inputs.mail }}", "options": ["refund", "escalate"]},
                },
                {"id": "refund", "type": "ai.generate", "params": {**ai, "prompt": "Write a refund note"}},
                {"id": "escalate", "type": "core.noop"},
            ],
            "edges": [
                {"from": "route", "port": "refund", "to": "refund"},
                {"from": "route", "port": "escalate", "to": "escalate"},
            ],
            "inputs": {"mail": {"type": "string"}},
            "outputs": {"why": "{{ steps.route.output.reason }}", "note": "{{ steps.refund.output.text }}"},
        }
    )


async def test_decide_routes_a_real_flow_and_the_key_stays_out_of_the_journal(
    fake: FakeAnthropic, tmp_path: Path
) -> None:
    from tests.fakes.anthropic_server import tool_use

    fake.push(
        tool_use({"choice": "refund", "confidence": 0.9, "reason": "small amount"}, name="decide"),
        text("Refund issued."),
    )
    journal = MemoryJournal("ai-flow")
    engine = Engine(secrets={"anthropic": KEY}.get, artifacts_dir=tmp_path)
    result = await engine.run(_decide_flow(fake.url), {"mail": "Please refund 20 EUR"}, journal=journal)
    assert result.status == "succeeded", result.error
    assert result.outputs == {"why": "small amount", "note": "Refund issued."}
    done = {e.path for e in journal.read() if e.type == "node.succeeded"}
    assert done == {"route", "refund"}
    events = json.dumps([[e.type, e.path, e.data] for e in journal.read()], default=str)
    assert '"cost_usd"' in events
    assert KEY not in events
    assert all(r.api_key == KEY for r in fake.requests)


def test_validate_checks_decide_ports(tmp_path: Path) -> None:
    from shared.flow import validate_document

    doc = _decide_flow("http://127.0.0.1:1").to_document()
    doc["edges"][1]["port"] = "escalat"
    problems = validate_document(doc)
    assert any("has no port 'escalat'; its ports are: refund, escalate, error" in p.message for p in problems)

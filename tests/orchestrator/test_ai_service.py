"""The AI service against the local Messages-API stand-in, through the real anthropic SDK: answers
that do not validate are asked again with their problems, a flow or patch that never validates is
a 422 with the problems, a diagnosis patch applies to the flow and validates, and the provider's
failures are the API's refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from orchestrator.errors import ApiError, Conflict, Invalid
from orchestrator.logging import remember
from orchestrator.services import ai
from orchestrator.services.workflows import problems_of
from tests.fakes.anthropic_server import FakeAnthropic, error, text

KEY = "sk-ant-test-key-0123456789"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(keys={KEY}) as server:
        yield server


@pytest.fixture
def model(fake: FakeAnthropic) -> ai.AnthropicModel:
    fake.reset()
    return ai.AnthropicModel(api_key=KEY, model="claude-sonnet-4-5", base_url=fake.url, timeout_s=10, max_retries=0)


def good_flow() -> dict[str, Any]:
    return {
        "schema": "rpa.flow/1",
        "name": "Greeter",
        "nodes": [
            {"id": "hello", "type": "core.log", "params": {"message": "hello"}},
            {"id": "pause", "type": "core.wait", "params": {"seconds": 1}},
        ],
        "edges": [{"from": "hello", "to": "pause"}],
    }


def bad_flow() -> dict[str, Any]:
    flow = good_flow()
    flow["nodes"][0]["type"] = "core.lgo"  # not a step of the catalogue
    return flow


async def test_an_invalid_flow_is_asked_again_with_its_problems_then_the_valid_one_is_returned(
    fake: FakeAnthropic, model: ai.AnthropicModel
) -> None:
    assert problems_of(bad_flow())
    assert not problems_of(good_flow())
    fake.push(
        text(json.dumps(bad_flow()), input_tokens=1000, output_tokens=200),
        text("Here it is:\n```json\n" + json.dumps(good_flow()) + "\n```", input_tokens=1300, output_tokens=210),
    )

    outcome = await ai.build_flow(model, "log hello, then wait a second", max_attempts=3)

    assert outcome.valid() == good_flow()
    assert outcome.attempts == 2
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens) == (2300, 410)
    first, second = fake.requests
    assert "core.wait" in first.json["system"]
    assert "rpa.flow/1" in first.json["system"]
    assert first.json["model"] == "claude-sonnet-4-5"
    fed_back = second.json["messages"][-1]["content"]
    assert "core.lgo" in fed_back
    assert "$.nodes[0].type" in fed_back
    assert second.json["messages"][1]["role"] == "assistant"


async def test_a_flow_that_never_validates_is_a_422_with_the_last_problems(
    fake: FakeAnthropic, model: ai.AnthropicModel
) -> None:
    fake.push(text(json.dumps(bad_flow())), text("not JSON at all"), text(json.dumps(bad_flow())))

    outcome = await ai.build_flow(model, "anything", max_attempts=3)

    with pytest.raises(Invalid) as caught:
        outcome.valid()
    assert caught.value.status == 422
    assert caught.value.code == "ai_invalid_answer"
    details = caught.value.details
    assert details["attempts"] == 3
    assert len(fake.requests) == 3
    assert any("core.lgo" in p["message"] for p in details["problems"])
    assert "no JSON" in fake.requests[2].json["messages"][-1]["content"]  # the unparsable answer was fed back


async def test_the_current_flow_is_sent_when_changing_it(fake: FakeAnthropic, model: ai.AnthropicModel) -> None:
    fake.push(text(json.dumps(good_flow())))
    current = good_flow()
    current["name"] = "Current flow 7f3a"

    await ai.build_flow(model, "add a pause", current=current, max_attempts=1)

    assert "Current flow 7f3a" in fake.requests[0].text()


def failed_run(secret: str) -> tuple[dict[str, Any], list[SimpleNamespace]]:
    """A flow and the journal of a run whose `pause` node failed (one event carries `secret`)."""
    flow = good_flow()
    events = [
        SimpleNamespace(seq=1, type="execution.started", path="", data={"inputs": {}}),
        SimpleNamespace(seq=2, type="node.started", path="hello", data={"attempt": 1, "type": "core.log"}),
        SimpleNamespace(seq=3, type="log", path="hello", data={"message": f"connecting with {secret}"}),
        SimpleNamespace(seq=4, type="node.succeeded", path="hello", data={"port": "out"}),
        SimpleNamespace(seq=5, type="node.started", path="pause", data={"attempt": 1, "type": "core.wait"}),
        SimpleNamespace(
            seq=6,
            type="node.failed",
            path="pause",
            data={"attempt": 1, "will_retry": False, "error": {"kind": "timeout", "message": "waited too long"}},
        ),
    ]
    return flow, events


def patch_answer(patch: list[dict[str, Any]], explanation: str = "The pause is too long.") -> str:
    return json.dumps({"explanation": explanation, "patch": patch})


async def test_a_diagnosis_patch_applies_to_the_flow_and_validates(
    fake: FakeAnthropic, model: ai.AnthropicModel
) -> None:
    flow, events = failed_run("nothing-secret")
    fake.push(
        text(patch_answer([{"op": "replace", "path": "/nodes/5/params/seconds", "value": 0}])),  # no such node
        text(patch_answer([{"op": "replace", "path": "/nodes/1/type", "value": "core.nap"}])),  # does not validate
        text(patch_answer([{"op": "replace", "path": "/nodes/1/params/seconds", "value": 0}])),
    )

    outcome = await ai.diagnose(model, flow, events, {"message": "failed"}, max_attempts=3)

    diagnosis = outcome.valid()
    assert outcome.attempts == 3
    assert diagnosis.explanation == "The pause is too long."
    assert diagnosis.flow["nodes"][1]["params"]["seconds"] == 0
    assert not problems_of(diagnosis.flow)
    assert flow["nodes"][1]["params"]["seconds"] == 1  # the version's flow itself is untouched
    assert "does not apply" in fake.requests[1].json["messages"][-1]["content"]
    assert "core.nap" in fake.requests[2].json["messages"][-1]["content"]
    context = json.loads(fake.requests[0].json["messages"][0]["content"].split("\n", 1)[1])
    assert context["failed_node"] == {
        "path": "pause",
        "id": "pause",
        "json_pointer": "/nodes/1",
        "type": "core.wait",
        "params": {"seconds": 1},
    }
    assert context["error"] == {"kind": "timeout", "message": "waited too long"}
    assert [e["seq"] for e in context["journal"]] == [1, 2, 3, 4, 5, 6]


async def test_a_value_this_process_revealed_is_masked_in_what_the_model_is_sent(
    fake: FakeAnthropic, model: ai.AnthropicModel
) -> None:
    secret = "Erp-Pass-9f8e7d6c5b4a"
    remember(secret)  # as vault.reveal does for every value it hands out
    flow, events = failed_run(secret)
    fake.push(text(patch_answer([])))

    await ai.diagnose(model, flow, events, None, max_attempts=1)

    sent = json.dumps(fake.requests[0].json)
    assert secret not in sent
    assert "connecting with ***" in fake.requests[0].text()


async def test_a_journal_without_a_failed_node_cannot_be_diagnosed(model: ai.AnthropicModel) -> None:
    flow, events = failed_run("x")
    with pytest.raises(Conflict) as caught:
        await ai.diagnose(model, flow, events[:4], None)
    assert caught.value.code == "no_failed_node"


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (error(401), 502, "ai_credential_rejected"),
        (error(429, retry_after=0), 503, "ai_rate_limited"),
        (error(529), 502, "ai_unavailable"),
    ],
)
async def test_provider_failures_are_refusals_that_name_no_key(
    fake: FakeAnthropic, model: ai.AnthropicModel, reply: Any, status: int, code: str
) -> None:
    fake.push(reply)
    with pytest.raises(ApiError) as caught:
        await ai.build_flow(model, "anything", max_attempts=1)
    assert (caught.value.status, caught.value.code) == (status, code)
    assert KEY not in caught.value.message


def test_json_is_found_whole_fenced_or_embedded() -> None:
    assert ai.json_of('{"a": 1}') == {"a": 1}
    assert ai.json_of('Sure:\n```json\n{"a": 2}\n```\nDone.') == {"a": 2}
    assert ai.json_of('The flow is {"a": 3} as asked.') == {"a": 3}
    with pytest.raises(ValueError, match="no JSON"):
        ai.json_of("no braces here")


def test_cost_uses_the_longest_matching_price() -> None:
    assert ai.cost_usd("claude-sonnet-4-5", 1_000_000, 1_000_000) == 18.0
    assert ai.cost_usd("claude-3-5-haiku-latest", 1_000_000, 0) == 0.8
    assert ai.cost_usd("someone-elses-model", 10**6, 10**6) == 0.0

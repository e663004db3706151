"""Live validation (the validator of `rpa validate`, debounced) and the analyser's rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.flow import validate_document
from shared.steps import StepRegistry
from studio.model import RULES, FlowDocument, LiveValidation, ValidationChanged, analyse, parse_json_path


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_validation_runs_after_a_quiet_delay_and_follows_edits(sample: dict[str, Any], registry: StepRegistry) -> None:
    # The sample's unknown keys are kept by the document, and reported by the validator.
    del sample["x-custom"], sample["nodes"][4]["x-plugin"]
    doc = FlowDocument(sample, registry=registry)
    clock = Clock()
    live = LiveValidation(doc, delay_s=0.3, clock=clock)
    seen: list[ValidationChanged] = []
    doc.events.connect(ValidationChanged, seen.append)
    clock.now += 1
    assert live.poll()
    assert live.problems == ()
    doc.execute("set_param", node="other", name="bogus", value=1)
    assert not live.poll()  # just edited: wait for the designer to pause
    clock.now += 0.1
    assert not live.poll()
    clock.now += 0.3
    assert live.poll()
    assert [(p.node, p.problem.code) for p in live.problems] == [("other", "unknown_param")]
    assert not live.poll()  # nothing changed since
    doc.undo()
    clock.now += 1
    assert live.poll()
    assert live.problems == ()
    assert len(seen) == 3


def test_the_same_problems_as_rpa_validate(doc: FlowDocument, registry: StepRegistry) -> None:
    doc.execute("connect", source="pick", target="guard", port="error")
    doc.execute("set_param", node="inner", name="value", value="{{ broken")
    doc.execute("add_node", type="nope.step", graph="guard.catch")
    live = LiveValidation(doc)
    live.run()
    assert [p.problem for p in live.problems] == validate_document(doc.raw, registry)
    assert {p.node for p in live.problems} >= {"inner", "step"}


def test_json_paths_parse_back_to_parts() -> None:
    assert parse_json_path('$.nodes[2].params["X-Id"].a') == ("nodes", 2, "params", "X-Id", "a")


def _rules(document: dict[str, Any], registry: StepRegistry, **kwargs: Any) -> list[tuple[str, str | None, str]]:
    doc = FlowDocument(document, registry=registry)
    return [(f.rule, f.node, f.path) for f in analyse(doc.raw, registry, doc.index, **kwargs)]


def _flow(nodes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"schema": "rpa.flow/1", "name": "t", "nodes": nodes, **extra}


def test_hard_coded_waits(registry: StepRegistry) -> None:
    found = _rules(
        _flow(
            [
                {"id": "sleep", "type": "core.wait", "params": {"seconds": 5}},
                {"id": "computed", "type": "core.wait", "params": {"seconds": "{{ vars.delay }}"}},
                {"id": "proper", "type": "browser.wait", "params": {"target": "#done", "timeout_s": 10}},
            ]
        ),
        registry,
    )
    assert found == [("hard-coded-wait", "sleep", "$.nodes[0].params.seconds")]


def test_empty_catch(registry: StepRegistry) -> None:
    body = {"nodes": [{"id": "a", "type": "core.noop"}]}
    found = _rules(
        _flow(
            [
                {"id": "swallow", "type": "control.try", "body": body, "catch": {"nodes": []}},
                {"id": "handled", "type": "control.try", "body": {"nodes": []}, "catch": body},
                {"id": "rethrows", "type": "control.try", "body": {"nodes": []}},
            ]
        ),
        registry,
    )
    assert found == [("empty-catch", "swallow", "$.nodes[0].catch")]


def test_unused_variables(registry: StepRegistry) -> None:
    found = _rules(
        _flow(
            [{"id": "a", "type": "core.log", "params": {"message": "{{ vars.used }}"}, "set": {"written": 1}}],
            variables={"used": 1, "written": 0, "derived": "{{ vars.base }}", "base": 2},
        ),
        registry,
    )
    assert found == [
        ("unused-variable", None, "$.variables.written"),
        ("unused-variable", None, "$.variables.derived"),
    ]


def test_literal_secrets(registry: StepRegistry) -> None:
    nodes = [
        {"id": "named", "type": "pdf.read_text", "params": {"path": "a.pdf", "password": "erp.pdf"}},
        {"id": "typed", "type": "pdf.read_text", "params": {"path": "a.pdf", "password": "hunter2 !"}},
        {
            "id": "header",
            "type": "http.request",
            "params": {"url": "https://x", "headers": {"Authorization": "Bearer abc"}},
        },
        {"id": "templated", "type": "http.request", "params": {"url": "https://x", "headers": {"api_key": "{{ x }}"}}},
    ]
    found = _rules(_flow(nodes), registry)
    assert found == [
        ("literal-secret", "typed", "$.nodes[1].params.password"),
        ("literal-secret", "header", "$.nodes[2].params.headers.Authorization"),
    ]
    # Signed in, the vault's names are known: a name it does not hold is reported too.
    known = _rules(_flow(nodes[:1]), registry, known_credentials={"crm"})
    assert known == [("literal-secret", "named", "$.nodes[0].params.password")]


def test_positional_selectors(registry: StepRegistry) -> None:
    nodes = [
        {"id": "nth", "type": "browser.click", "params": {"target": "li >> nth=2"}},
        {"id": "child", "type": "browser.click", "params": {"target": "tr:nth-child(3) td"}},
        {"id": "xpath", "type": "browser.click", "params": {"target": "//table/tr[3]/td"}},
        {"id": "stable", "type": "browser.click", "params": {"target": "role=button[name='Save']"}},
        {"id": "query", "type": "data.query", "params": {"data": [1], "query": "[0]"}},
    ]
    found = _rules(_flow(nodes), registry)
    assert [(rule, node) for rule, node, _ in found] == [
        ("positional-selector", "nth"),
        ("positional-selector", "child"),
        ("positional-selector", "xpath"),
    ]


def test_rules_can_be_switched_off(sample: dict[str, Any], registry: StepRegistry) -> None:
    doc = FlowDocument(sample, registry=registry)
    live = LiveValidation(doc)
    live.run()
    assert {(f.rule, f.node) for f in live.findings} == {("unused-variable", None), ("empty-catch", "guard")}
    live.set_rule("empty-catch", enabled=False)
    live.run()
    assert {f.rule for f in live.findings} == {"unused-variable"}
    assert live.for_node("guard") == []
    with pytest.raises(KeyError, match="unknown analyser rule"):
        analyse(doc.raw, registry, doc.index, disabled={"no-such-rule"})
    assert list(RULES) == [
        "hard-coded-wait",
        "empty-catch",
        "unused-variable",
        "literal-secret",
        "positional-selector",
    ]


async def test_a_check_in_a_worker_thread_is_dropped_when_the_flow_changed_meanwhile(doc: FlowDocument) -> None:
    live = LiveValidation(doc)
    snapshot = live.snapshot()
    doc.execute("set_param", node="other", name="bogus", value=1)  # edited while the check runs
    checked = await asyncio.to_thread(LiveValidation.check, snapshot)
    assert not live.apply(checked)
    assert live.stale
    fresh = await asyncio.to_thread(LiveValidation.check, live.snapshot())
    assert live.apply(fresh)
    assert ("other", "unknown_param") in {(p.node, p.problem.code) for p in live.problems}
    assert not live.stale

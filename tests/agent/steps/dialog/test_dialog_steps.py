"""Dialog steps: answered by a host the test registers; checked answers; the declared default
(or a clear error) on a headless agent, on a timeout; a cancel; and a resumed run that replays
the journaled answer instead of asking again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.attended import DialogCancelled, DialogRequest, register_host, unregister_host
from agent.steps.dialog import (
    DIALOG_STEPS,
    choose_file,
    choose_folder,
    confirm,
    input_form,
    message,
    review_table,
    select,
)
from shared.engine import Engine, MemoryJournal
from shared.errors import StepError
from shared.expressions import SecretMasker
from shared.flow import Flow
from shared.steps import StepEnvironment, StepRegistry


class Host:
    """Answers each dialog with `answer(request)` and keeps what it was asked."""

    def __init__(self, answer: Callable[[DialogRequest], Any]) -> None:
        self.answer = answer
        self.asked: list[DialogRequest] = []

    async def ask(self, request: DialogRequest) -> Any:
        self.asked.append(request)
        result = self.answer(request)
        if isinstance(result, BaseException):
            raise result
        if asyncio.iscoroutine(result):
            return await result
        return result


@pytest.fixture
def host() -> Iterator[Callable[[Callable[[DialogRequest], Any]], Host]]:
    made: list[Host] = []

    def make(answer: Callable[[DialogRequest], Any]) -> Host:
        made.append(Host(answer))
        register_host(made[-1])
        return made[-1]

    yield make
    unregister_host()


async def _run(step_fn: Any, params: dict[str, Any], env: StepEnvironment | None = None) -> Any:
    return await (env or StepEnvironment()).run(step_fn, params)


async def test_each_step_returns_the_hosts_answer(host: Any, tmp_path: Path) -> None:
    (tmp_path / "in.xlsx").write_text("x")
    answers = {
        "message": None,
        "confirm": True,
        "choose_file": str(tmp_path / "in.xlsx"),
        "choose_folder": str(tmp_path),
        "select": "EU",
        "review_table": [{"name": "Ann", "amount": 13}],
    }
    asked = host(lambda r: answers[r.kind])
    assert await _run(message, {"message": "Invoices sent."}) is None
    assert await _run(confirm, {"message": "Send 12 invoices?", "title": "Invoices"}) is True
    assert await _run(choose_file, {"filters": ["*.xlsx"]}) == str(tmp_path / "in.xlsx")
    assert await _run(choose_folder, {}) == str(tmp_path)
    assert await _run(select, {"options": ["EU", "US"]}) == "EU"
    table = [{"name": "Ann", "amount": 12}]
    assert await _run(review_table, {"table": table, "editable": True}) == [{"name": "Ann", "amount": 13}]
    assert [r.kind for r in asked.asked] == list(answers)
    assert asked.asked[1].title == "Invoices"
    assert asked.asked[2].filters == ("*.xlsx",)
    assert asked.asked[5].table == table
    assert asked.asked[0].path == "step"


async def test_an_input_form_is_answered_checked_and_its_passwords_masked(host: Any) -> None:
    fields = [
        {"name": "customer", "required": True, "pattern": "[A-Z]+"},
        {"name": "pin", "type": "password"},
        {"name": "count", "type": "number", "minimum": 1, "maximum": 10},
        {"name": "month", "type": "date"},
        {"name": "region", "type": "choice", "options": ["EU", "US"]},
        {"name": "urgent", "type": "checkbox"},
        {"name": "sheet", "type": "file"},
    ]
    good = {"customer": "ACME", "pin": "4711-secret", "count": 3, "month": "2026-12-07", "region": "EU", "urgent": True}
    asked = host(lambda _r: good)
    masker = SecretMasker()
    env = StepEnvironment(masker=masker)
    assert await _run(input_form, {"fields": fields}, env) == {**good, "sheet": None}
    assert [f.label for f in asked.asked[0].fields][:1] == ["customer"]
    assert "4711-secret" not in str(masker.mask({"x": "pin 4711-secret"}))

    asked.answer = lambda _r: {"customer": "acme", "count": 11, "month": "7 Dec", "region": "ASIA", "urgent": "yes"}
    with pytest.raises(StepError) as caught:
        await _run(input_form, {"fields": fields, "title": "Order"})
    assert caught.value.kind == "invalid_answer"
    for problem in (
        "customer: does not match [A-Z]+",
        "count: must be at most 10",
        "month: must be a date",
        "region: must be one of EU, US",
        "urgent: must be true or false",
    ):
        assert problem in caught.value.message


@pytest.mark.parametrize(
    ("step_fn", "params", "answer", "why"),
    [
        (confirm, {}, "yes", "must be true or false"),
        (select, {"options": ["EU", "US"]}, "ASIA", "not an option: ASIA"),
        (select, {"options": ["EU", "US"]}, ["EU", "US"], "choose one option"),
        (choose_file, {}, "/nonexistent/file.xlsx", "is not an existing file"),
        (review_table, {"table": [{"a": 1}]}, [{"a": 2}], "not editable, but came back changed"),
    ],
)
async def test_a_wrong_answer_is_refused(host: Any, step_fn: Any, params: Any, answer: Any, why: str) -> None:
    host(lambda _r: answer)
    with pytest.raises(StepError) as caught:
        await _run(step_fn, params)
    assert caught.value.kind == "invalid_answer"
    assert why in caught.value.message


async def test_several_options_come_back_as_a_list(host: Any) -> None:
    host(lambda _r: ["US", "EU"])
    assert await _run(select, {"options": ["EU", "US"], "multiple": True}) == ["US", "EU"]


async def test_a_headless_agent_uses_the_default_or_fails_clearly() -> None:
    unregister_host()
    env = StepEnvironment()
    assert await _run(confirm, {"message": "Go?", "default": False}, env) is False
    assert any("no dialog host" in line for _, line in env.logs)
    with pytest.raises(StepError) as caught:
        await _run(confirm, {"title": "Send invoices"})
    assert caught.value.kind == "no_dialog_host"
    assert "confirm dialog 'Send invoices' needs a person" in caught.value.message
    assert not caught.value.retryable


async def test_no_answer_in_time_is_the_default_or_a_timeout(host: Any) -> None:
    host(lambda _r: asyncio.sleep(30))
    assert await _run(select, {"options": ["EU", "US"], "default": "US", "timeout_s": 0.1}) == "US"
    with pytest.raises(StepError) as caught:
        await _run(select, {"options": ["EU", "US"], "timeout_s": 0.1, "title": "Region"})
    assert caught.value.kind == "dialog_timeout"
    assert "within 0.1 s" in caught.value.message


async def test_a_cancelled_dialog_fails_the_step_as_a_business_error(host: Any) -> None:
    host(lambda _r: DialogCancelled())
    with pytest.raises(StepError) as caught:
        await _run(message, {"title": "Done"})
    assert caught.value.kind == "dialog_cancelled"
    assert not caught.value.retryable


def test_params_that_cannot_work_are_refused_before_a_run() -> None:
    bad = [
        (input_form, {"fields": [{"name": "a"}, {"name": "a"}]}, "appear twice"),
        (input_form, {"fields": [{"name": "r", "type": "choice"}]}, "give its options"),
        (input_form, {"fields": [{"name": "t", "pattern": "("}]}, "does not compile"),
        (select, {"options": []}, "at least 1"),
    ]
    for step_fn, params, why in bad:
        with pytest.raises(ValueError, match=why):
            step_fn.__rpa_step__.params.model_validate(params)


async def test_a_resumed_run_replays_the_answer_and_does_not_ask_again(host: Any) -> None:
    flow = Flow.model_validate(
        {
            "schema": "rpa.flow/1",
            "name": "Asks once",
            "nodes": [
                {"id": "ask", "type": "dialog.confirm", "params": {"message": "Go?"}},
                {"id": "work", "type": "core.wait", "params": {"seconds": 0.5}},
            ],
            "edges": [{"from": "ask", "to": "work"}],
            "outputs": {"go": "{{ steps.ask.output }}"},
        }
    )
    registry = StepRegistry.default(plugins=False)
    registry.add(list(DIALOG_STEPS))
    first = host(lambda _r: True)
    journal = MemoryJournal("e-dialog")
    task = asyncio.create_task(Engine(registry).run(flow, journal=journal))
    for _ in range(500):
        if any(e.type == "node.started" and e.path == "work" for e in journal.read()):
            break
        await asyncio.sleep(0.01)
    task.cancel()  # the host stops: the journal stays open
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(first.asked) == 1

    again = host(lambda _r: False)  # a different answer, were it asked
    result = await Engine(registry).run(flow, journal=journal)
    assert again.asked == []
    assert result.status == "succeeded"
    assert result.outputs == {"go": True}

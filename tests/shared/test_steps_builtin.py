"""Built-in core.* and data.* steps run through `StepEnvironment`; the step API (`@step`,
`context()`); the `StepRegistry` (duplicates, suggestions, `rpa.steps` plugins); named locks."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from shared.engine import MemoryJournal
from shared.errors import (
    BusinessError,
    DuplicateStepError,
    FlowInvalidError,
    StepCancelled,
    StepError,
    UnknownStepError,
)
from shared.flow import load_flow
from shared.steps import (
    ENTRY_POINT_GROUP,
    NoParams,
    Output,
    Route,
    StepEnvironment,
    StepRegistry,
    context,
    step,
)
from shared.steps import _registry as registry_module
from shared.steps.builtin import (
    BUILTIN_STEPS,
    CONTROL_STEPS,
    CORE_STEPS,
    DATA_EXTRA_STEPS,
    DATA_STEPS,
    TABLE_STEPS,
    control,
    core,
    data,
)


@pytest.fixture
def env(tmp_path: Path) -> StepEnvironment:
    return StepEnvironment(artifacts_dir=tmp_path / "env-artifacts")


# -- core.* ------------------------------------------------------------------------------------


async def test_core_noop_returns_its_value(env):
    assert await env.run(core.core_noop, {"value": {"a": [1, 2]}}) == {"a": [1, 2]}
    assert await env.run(core.core_noop) is None


@pytest.mark.parametrize(
    ("params", "logged"),
    [
        ({"message": "hello"}, ("info", "hello")),
        ({"message": "careful", "level": "warning"}, ("warning", "careful")),
        ({"message": 42, "level": "debug"}, ("debug", "42")),
    ],
)
async def test_core_log_writes_one_line_to_the_execution_log_and_returns_the_message(env, params, logged):
    assert await env.run(core.core_log, params) == params["message"]
    assert env.logs == [logged]


async def test_core_log_refuses_an_unknown_level(env):
    with pytest.raises(StepError) as caught:
        await env.run(core.core_log, {"message": "x", "level": "loud"})

    assert caught.value.kind == "validation"
    assert env.logs == []


async def test_core_wait_waits_and_returns_the_seconds(env):
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await env.run(core.core_wait, {"seconds": 0.03}) == 0.03
    assert loop.time() - started >= 0.03


@pytest.mark.parametrize("seconds", [-1, 86_401, "soon"])
async def test_core_wait_refuses_seconds_out_of_range(env, seconds):
    with pytest.raises(StepError) as caught:
        await env.run(core.core_wait, {"seconds": seconds})

    assert caught.value.kind == "validation"
    assert caught.value.retryable is False


async def test_core_fail_raises_a_business_error_by_default(env):
    with pytest.raises(BusinessError) as caught:
        await env.run(core.core_fail, {"message": "the invoice total is negative"})

    assert caught.value.to_dict() == {
        "kind": "business",
        "message": "the invoice total is negative",
        "retryable": False,
        "details": {},
    }


async def test_core_fail_with_another_kind_raises_a_plain_step_error(env):
    with pytest.raises(StepError) as caught:
        await env.run(core.core_fail, {"message": "try later", "kind": "rate_limited", "retryable": True})

    assert not isinstance(caught.value, BusinessError)
    assert (caught.value.kind, caught.value.retryable) == ("rate_limited", True)


# -- data.* ------------------------------------------------------------------------------------


async def test_set_variable_returns_the_value_and_the_variable_it_sets(env):
    result = await env.run(data.set_variable, {"name": "total", "value": [1]})

    assert result == Output([1], {"total": [1]})


@pytest.mark.parametrize("name", ["1st", "has space", "a-b", ""])
async def test_set_variable_refuses_a_name_that_is_not_an_identifier(env, name):
    with pytest.raises(StepError) as caught:
        await env.run(data.set_variable, {"name": name, "value": 1})

    assert caught.value.kind == "validation"


async def test_set_variables_sets_every_value(env):
    result = await env.run(data.set_variables, {"values": {"a": 1, "b": None}})

    assert result == Output({"a": 1, "b": None}, {"a": 1, "b": None})


async def test_set_variables_refuses_bad_names_as_a_business_error(env):
    with pytest.raises(BusinessError) as caught:
        await env.run(data.set_variables, {"values": {"ok": 1, "not ok": 2}})

    assert caught.value.kind == "validation"
    assert "not ok" in caught.value.message


async def test_template_returns_its_text_as_the_engine_rendered_it(env, make_flow, run):
    # The step itself does not render: the engine renders params before the step sees them.
    assert await env.run(data.template, {"template": "Hi {{ who }}"}) == "Hi {{ who }}"
    flow = make_flow(
        [
            {
                "id": "t",
                "type": "data.template",
                "params": {"template": "Dear {{ inputs.name }}, you owe {{ inputs.amount * 2 }} EUR"},
            }
        ],
        inputs={"name": {"type": "string"}, "amount": {"type": "number"}},
        outputs={"text": "{{ steps.t.output }}"},
    )
    result, _ = await run(flow, {"name": "Ada", "amount": 21})

    assert result.outputs == {"text": "Dear Ada, you owe 42 EUR"}


DOC = {"orders": [{"id": 1, "total": 10}, {"id": 2, "total": 25}], "owner": {"name": "ada"}}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"query": "orders[?total > `15`].id"}, [2]),
        ({"query": "owner.name"}, "ada"),
        ({"query": "missing"}, None),
        ({"query": "$.orders[*].total", "language": "jsonpath"}, [10, 25]),
        ({"query": "$.orders[*].total", "language": "jsonpath", "first": True}, 10),
        ({"query": "$.nothing", "language": "jsonpath", "first": True}, None),
        ({"query": "$.nothing", "language": "jsonpath"}, []),
    ],
)
async def test_query_selects_with_jmespath_or_jsonpath(env, params, expected):
    assert await env.run(data.query, {"data": DOC, **params}) == expected


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"query": "orders[", "language": "jmespath"}, "JMESPath"),
        ({"query": "$.[[", "language": "jsonpath"}, "JSONPath"),
    ],
)
async def test_a_bad_query_is_a_business_error_of_kind_data(env, params, fragment):
    with pytest.raises(BusinessError) as caught:
        await env.run(data.query, {"data": DOC, **params})

    assert caught.value.kind == "data"
    assert caught.value.retryable is False
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"text": "ABC-123", "pattern": r"[A-Z]+-\d+", "mode": "match"}, True),
        ({"text": "ABC-123 tail", "pattern": r"[A-Z]+-\d+", "mode": "match"}, False),
        ({"text": "id=42;id=7", "pattern": r"id=(\d+)"}, "id=42"),
        ({"text": "id=42;id=7", "pattern": r"id=(\d+)", "group": 1}, "42"),
        ({"text": "id=42", "pattern": r"id=(?P<n>\d+)", "group": "n"}, "42"),
        ({"text": "nothing here", "pattern": r"\d+"}, None),
        ({"text": "a1b22c", "pattern": r"\d+", "mode": "findall"}, ["1", "22"]),
        ({"text": "a1b2", "pattern": r"(\d)", "mode": "replace", "replacement": r"<\1>"}, "a<1>b<2>"),
        ({"text": "a, b,c", "pattern": r",\s*", "mode": "split"}, ["a", "b", "c"]),
    ],
)
async def test_regex_matches_searches_finds_replaces_and_splits(env, params, expected):
    assert await env.run(data.regex, params) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"text": "abc", "pattern": "("},
        {"text": "abc", "pattern": "a", "group": 3},
        {"text": "abc", "pattern": "a", "mode": "replace", "replacement": r"\9"},
    ],
)
async def test_a_bad_regex_is_a_business_error_of_kind_data(env, params):
    with pytest.raises(BusinessError) as caught:
        await env.run(data.regex, params)

    assert caught.value.kind == "data"


@pytest.mark.parametrize(
    ("value", "to", "expected"),
    [
        ("42", "integer", 42),
        ("3.9", "integer", 3),
        (" 7 ", "integer", 7),
        ("2.5", "number", 2.5),
        ("yes", "boolean", True),
        ("OFF", "boolean", False),
        (0, "boolean", False),
        ({"a": [1, "é"]}, "json", '{"a": [1, "é"]}'),
        ('{"a": 1}', "from_json", {"a": 1}),
        (True, "string", "true"),
        (None, "string", ""),
        ([1, 2], "string", "[1, 2]"),
        ("2024-01-31T10:00:00", "date", "2024-01-31"),
        ("x", "list", ["x"]),
        (None, "list", []),
        ({"k": 1}, "list", [{"key": "k", "value": 1}]),
        ([1], "list", [1]),
    ],
)
async def test_convert_turns_values_into_the_requested_type(env, value, to, expected):
    assert await env.run(data.convert, {"value": value, "to": to}) == expected


async def test_convert_reads_dates_with_a_format(env):
    assert await env.run(data.convert, {"value": "31/01/2024", "to": "date", "format": "%d/%m/%Y"}) == "2024-01-31"


@pytest.mark.parametrize(
    ("value", "to"),
    [
        ("forty", "integer"),
        ([1], "integer"),
        ("inf", "number"),
        ("maybe", "boolean"),
        (2, "boolean"),
        ("{bad", "from_json"),
        ("2024-13-01", "date"),
        (float("nan"), "json"),
    ],
)
async def test_converting_bad_data_is_a_business_error_of_kind_data(env, value, to):
    with pytest.raises(BusinessError) as caught:
        await env.run(data.convert, {"value": value, "to": to})

    assert caught.value.kind == "data"
    assert caught.value.retryable is False
    assert "cannot" in caught.value.message


async def test_convert_refuses_an_unknown_target_type(env):
    with pytest.raises(StepError) as caught:
        await env.run(data.convert, {"value": 1, "to": "roman"})

    assert caught.value.kind == "validation"


async def test_parse_json_parses_text(env):
    assert await env.run(data.parse_json, {"text": '{"a": [1, null, true]}'}) == {"a": [1, None, True]}


async def test_bad_json_is_a_business_error_of_kind_data_that_says_where(env):
    with pytest.raises(BusinessError) as caught:
        await env.run(data.parse_json, {"text": '{\n  "a": 1,\n  oops\n}'})

    assert caught.value.kind == "data"
    assert "line 3" in caught.value.message


async def test_parse_csv_reads_rows_as_objects_with_a_header_or_lists_without(env):
    text = 'name;qty\nbolt;3\n"nut; hex";10\n'

    assert await env.run(data.parse_csv, {"text": text, "delimiter": ";"}) == [
        {"name": "bolt", "qty": "3"},
        {"name": "nut; hex", "qty": "10"},
    ]
    assert await env.run(data.parse_csv, {"text": text, "delimiter": ";", "header": False}) == [
        ["name", "qty"],
        ["bolt", "3"],
        ["nut; hex", "10"],
    ]


async def test_unreadable_csv_is_a_business_error_of_kind_data(env):
    with pytest.raises(BusinessError) as caught:
        await env.run(data.parse_csv, {"text": "a\n" + "x" * 200_000})

    assert caught.value.kind == "data"
    assert "invalid CSV" in caught.value.message


async def test_parse_csv_refuses_a_delimiter_longer_than_one_character(env):
    with pytest.raises(StepError) as caught:
        await env.run(data.parse_csv, {"text": "a", "delimiter": ";;"})

    assert caught.value.kind == "validation"


async def test_format_csv_writes_objects_with_every_key_as_a_column(env):
    text = await env.run(data.format_csv, {"rows": [{"a": 1, "b": "x,y"}, {"c": True, "a": 2}]})

    assert text == 'a,b,c\n1,"x,y",\n2,,True\n'


async def test_format_csv_writes_lists_and_scalars_as_rows(env):
    assert await env.run(data.format_csv, {"rows": [[1, 2], "z"], "delimiter": "\t"}) == "1\t2\nz\n"
    assert await env.run(data.format_csv, {"rows": []}) == ""


async def test_csv_written_by_format_csv_reads_back_the_same(env):
    rows = [{"name": 'quote "q"', "note": "line\nbreak"}, {"name": "plain", "note": ""}]
    text = await env.run(data.format_csv, {"rows": rows})

    assert await env.run(data.parse_csv, {"text": text}) == rows


# -- control.* through the step environment -----------------------------------------------------


@pytest.mark.parametrize(("condition", "port"), [(1, "true"), ("", "false"), ([], "false"), ("no", "true")])
async def test_control_if_routes_on_truthiness(env, condition, port):
    assert await env.run(control.control_if, {"condition": condition}) == Route(port, port == "true")


@pytest.mark.parametrize(("value", "port"), [(False, "false"), (3, "3"), ("x", "default")])
async def test_control_switch_routes_on_the_text_of_the_value(env, value, port):
    assert await env.run(control.control_switch, {"value": value, "cases": ["false", "3"]}) == Route(port, port)


async def test_containers_cannot_run_outside_the_engine(env):
    with pytest.raises(TypeError, match="run by the engine"):
        await env.run(control.control_foreach, {"items": []})


def test_the_builtin_catalogue_is_the_five_families():
    names = {fn.__rpa_step__.name for fn in BUILTIN_STEPS}

    assert len(names) == len(BUILTIN_STEPS)
    assert len(BUILTIN_STEPS) == sum(map(len, (CONTROL_STEPS, CORE_STEPS, DATA_STEPS, DATA_EXTRA_STEPS, TABLE_STEPS)))
    assert {
        "core.noop",
        "core.log",
        "core.wait",
        "core.fail",
        "data.template",
        "data.query",
        "data.regex",
        "data.convert",
        "data.parse_json",
        "data.parse_csv",
        "data.format_csv",
        "data.set_variable",
        "data.set_variables",
        "data.filter",
        "data.sort",
        "data.map",
        "data.group",
        "data.join",
        "data.dedupe",
        "data.pivot",
        "data.unpivot",
        "data.slice",
        "control.if",
        "control.switch",
        "control.foreach",
        "control.parallel_foreach",
        "control.while",
        "control.try",
        "flow.call",
        "data.date_parse",
        "data.date_format",
        "data.date_add",
        "data.business_days",
    } == names


# -- the step API --------------------------------------------------------------------------------


class EchoParams(BaseModel):
    text: str


@step("test.describe_me", params=EchoParams, output="The text.", capability="desktop", lock="desktop")
def described(params: EchoParams) -> str:
    """Echo a text.

    Longer explanation.
    """
    return params.text


def test_the_step_decorator_records_a_definition_from_the_function():
    definition = described.__rpa_step__

    assert definition.name == "test.describe_me"
    assert definition.summary == "Echo a text."
    assert "Longer explanation." in definition.docs
    assert definition.is_async is False
    assert definition.lock == "desktop"
    described_json = definition.describe()
    assert described_json["params"]["required"] == ["text"]
    assert described_json["capability"] == "desktop"
    assert described(EchoParams(text="unchanged")) == "unchanged"


async def test_a_step_sees_its_context(env, caplog):
    @step("test.ctx")
    async def ctx_step(params: NoParams) -> dict[str, Any]:
        ctx = context()
        ctx.log("hello")
        ctx.logger.info("from %s", "logger")
        ctx.logger.debug("below the level")
        return {
            "key": ctx.idempotency_key,
            "attempt": ctx.attempt,
            "dir": ctx.artifacts_dir,
            "cancelled": ctx.is_cancelled(),
        }

    env.attempt = 2
    caplog.set_level(logging.INFO, logger="rpa.step.test.ctx")
    result = await env.run(ctx_step)

    assert result["key"] == "test-execution/step"
    assert result["attempt"] == 2
    assert result["cancelled"] is False
    assert result["dir"].is_dir()
    assert result["dir"].is_relative_to(env.artifacts_dir)
    assert env.logs == [("info", "hello"), ("info", "from logger")]


async def test_a_sync_step_sees_cancellation_requested_through_its_context(env):
    @step("test.check_cancel")
    def check(params: NoParams) -> bool:
        cancelled = context().is_cancelled()
        context().raise_if_cancelled()
        return cancelled

    assert await env.run(check) is False
    env.cancel()
    with pytest.raises(StepCancelled) as caught:
        await env.run(check)
    assert (caught.value.kind, caught.value.retryable) == ("cancelled", False)


def test_context_outside_a_running_step_is_an_error():
    with pytest.raises(RuntimeError, match="outside a running step"):
        context()


async def test_step_environment_masks_logs_with_the_given_masker(tmp_path):
    env = StepEnvironment(artifacts_dir=tmp_path, mask=lambda text: text.replace("hunter2", "***"))
    await env.run(core.core_log, {"message": "pw is hunter2"})

    assert env.logs == [("info", "pw is ***")]


# -- the registry ------------------------------------------------------------------------------


@step("test.alpha")
async def alpha(params: NoParams) -> str:
    return "alpha"


@step("test.beta")
async def beta(params: NoParams) -> str:
    return "beta"


@step("test.gamma")
async def gamma(params: NoParams) -> str:
    return "gamma"


@step("core.noop")
async def fake_noop(params: NoParams) -> None:
    return None


def test_a_registry_holds_the_steps_it_is_given_sorted_by_name():
    registry = StepRegistry([beta, alpha.__rpa_step__])

    assert len(registry) == 2
    assert "test.alpha" in registry
    assert "test.gamma" not in registry
    assert [d.name for d in registry] == ["test.alpha", "test.beta"]
    assert registry.get("test.beta").fn is beta


def test_two_steps_with_one_name_are_refused():
    with pytest.raises(DuplicateStepError, match=r"core\.noop"):
        StepRegistry([*BUILTIN_STEPS, fake_noop])

    registry = StepRegistry([alpha])
    with pytest.raises(DuplicateStepError):
        registry.add([alpha])


def test_a_function_that_is_not_a_step_is_refused():
    with pytest.raises(TypeError, match="not a step"):
        StepRegistry([lambda params: None])


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("core.nop", "core.noop"), ("data.parse_jsn", "data.parse_json"), ("control.iff", "control.if")],
)
def test_an_unknown_step_names_the_closest_ones(name, suggestion):
    with pytest.raises(UnknownStepError) as caught:
        StepRegistry(BUILTIN_STEPS).get(name)

    assert suggestion in caught.value.suggestions
    assert f"did you mean '{suggestion}'" in str(caught.value) or suggestion in str(caught.value)


def test_an_unknown_step_with_nothing_close_has_no_suggestions():
    with pytest.raises(UnknownStepError) as caught:
        StepRegistry(BUILTIN_STEPS).get("zzzz.qqqq")

    assert caught.value.suggestions == []
    assert "did you mean" not in str(caught.value)


def test_a_flow_with_an_unknown_step_does_not_load():
    document = {"schema": "rpa.flow/1", "name": "f", "nodes": [{"id": "a", "type": "core.nop"}]}

    with pytest.raises(FlowInvalidError) as caught:
        load_flow(document, registry=StepRegistry(BUILTIN_STEPS))

    (problem,) = caught.value.problems
    assert (problem.path, problem.code) == ("$.nodes[0].type", "unknown_step")
    assert "core.noop" in problem.message


class FakeEntryPoint:
    def __init__(self, name: str, loaded: Any = None, error: BaseException | None = None) -> None:
        self.name = name
        self._loaded = loaded
        self._error = error

    def load(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._loaded


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[FakeEntryPoint]:
    found: list[FakeEntryPoint] = []

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        assert group == ENTRY_POINT_GROUP == "rpa.steps"
        return list(found)

    monkeypatch.setattr(registry_module, "entry_points", entry_points)
    return found


def test_default_registry_adds_rpa_steps_plugins_to_the_builtins(plugins):
    plugins.extend([FakeEntryPoint("listed", [alpha]), FakeEntryPoint("factory", lambda: (beta,))])
    registry = StepRegistry.default()

    assert "test.alpha" in registry
    assert "test.beta" in registry
    assert len(registry) == len(BUILTIN_STEPS) + 2


def test_default_registry_without_plugins_does_not_look_for_them(monkeypatch):
    def entry_points(**_: Any) -> list[Any]:
        raise AssertionError("entry points were read")

    monkeypatch.setattr(registry_module, "entry_points", entry_points)

    assert len(StepRegistry.default(plugins=False)) == len(BUILTIN_STEPS)


def test_a_plugin_that_cannot_be_imported_is_logged_and_left_out(plugins, caplog):
    plugins.extend(
        [
            FakeEntryPoint("broken", error=ImportError("No module named 'ghost'")),
            FakeEntryPoint("good", [alpha]),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="shared.steps._registry"):
        registry = StepRegistry.default()

    assert "test.alpha" in registry
    assert any("broken" in record.getMessage() and "ghost" in record.getMessage() for record in caplog.records)


def test_a_plugin_step_that_reuses_a_builtin_name_is_refused(plugins):
    plugins.append(FakeEntryPoint("clash", [fake_noop]))

    with pytest.raises(DuplicateStepError):
        StepRegistry.default()


@pytest.mark.parametrize(
    "broken",
    [
        FakeEntryPoint("missing_attr", error=AttributeError("module 'plugin' has no attribute 'STEPS'")),
        FakeEntryPoint("single_step", beta),
        FakeEntryPoint("not_steps", [alpha, "not a step"]),
    ],
    ids=["missing-attribute", "single-step", "non-step-in-list"],
)
def test_one_broken_plugin_does_not_take_the_catalogue_down(plugins, broken):
    plugins.extend([broken, FakeEntryPoint("zz_good", [gamma])])
    registry = StepRegistry.default()

    assert "test.gamma" in registry


# -- named locks ---------------------------------------------------------------------------------


def parallel_loop(step_type: str, count: int = 3, sleep: float = 0.02) -> dict[str, Any]:
    return {
        "id": "each",
        "type": "control.parallel_foreach",
        "params": {"items": count},
        "body": {"nodes": [{"id": "w", "type": step_type, "params": {"sleep": sleep, "group": "g"}}]},
    }


@pytest.mark.parametrize(
    ("step_type", "peak"),
    [("test.locked", 1), ("test.sync_locked", 1), ("test.work", 3), ("test.sync_work", 3)],
)
async def test_steps_with_a_lock_never_run_at_the_same_time(make_flow, run, probe, step_type, peak):
    # Unlocked steps must be seen overlapping: long enough that a loaded machine starting the
    # three threads one after another still has all three inside at once.
    result, _ = await run(make_flow([parallel_loop(step_type, sleep=0.02 if peak == 1 else 0.5)]))

    assert result.status == "succeeded"
    assert probe.peak["g"] == peak
    assert len(probe.finished) == 3


async def test_a_lock_is_shared_by_executions_running_at_the_same_time(make_flow, make_engine, probe):
    engine = make_engine()
    flows = [make_flow([{"id": "w", "type": "test.locked", "params": {"sleep": 0.02, "group": "g"}}]) for _ in range(3)]
    results = await asyncio.wait_for(
        asyncio.gather(*(engine.run(f, journal=MemoryJournal(f"lock-{i}")) for i, f in enumerate(flows))), 1
    )

    assert [r.status for r in results] == ["succeeded"] * 3
    assert probe.peak["g"] == 1


async def test_two_parallel_nodes_with_a_lock_run_one_after_the_other(make_flow, run, probe):
    flow = make_flow(
        [{"id": f"w{i}", "type": "test.locked", "params": {"sleep": 0.02, "group": "g"}} for i in range(2)]
    )
    result, _ = await run(flow)

    assert result.status == "succeeded"
    assert probe.peak["g"] == 1


async def test_a_timed_out_sync_step_keeps_its_lock_until_its_thread_has_stopped(make_flow, run, probe):
    node = {
        "id": "s",
        "type": "test.sync_locked",
        "params": {"first_sleep": 0.3, "group": "g"},
        "timeout_s": 0.05,
        "retry": {"max_attempts": 2, "backoff_s": 0},
    }
    result, _ = await run(make_flow([node]))
    await asyncio.to_thread(time.sleep, 0.3)  # let the first attempt's thread end before the next test

    assert result.status == "succeeded"
    assert probe.peak["g"] == 1


async def test_core_log_lines_reach_on_log_with_the_execution_and_node(make_flow, run):
    lines: list[tuple[str, str, str, str]] = []
    flow = make_flow([{"id": "say", "type": "core.log", "params": {"message": "n={{ 1 + 1 }}", "level": "warning"}}])
    result, _ = await run(flow, journal=MemoryJournal("logged"), on_log=lambda *line: lines.append(line))

    assert result.status == "succeeded"
    assert lines == [("logged", "say", "warning", "n=2")]


async def test_a_step_error_with_details_reaches_the_journal(make_flow, make_engine, registry):
    @step("test.detailed")
    async def detailed(params: NoParams) -> None:
        raise StepError("row rejected", kind="data", retryable=False, details={"row": 3})

    registry.add([detailed])
    journal = MemoryJournal("details")
    result = await make_engine().run(make_flow([{"id": "d", "type": "test.detailed"}]), journal=journal)

    assert result.error == {
        "kind": "data",
        "message": "row rejected",
        "retryable": False,
        "details": {"row": 3},
        "node": "d",
        "type": "test.detailed",
    }

"""The `rpa` command line: schema, validate, steps, run (inputs, failures, journal and resume).

Commands run in-process through `typer.testing.CliRunner`; a few run the installed `rpa`
console script in a real subprocess to prove the entry point works. No command may ever show a
traceback: every user mistake ends with a sentence and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from cli._app import app
from shared.engine import Engine, SqliteJournal
from shared.flow import load_flow, parse_document
from shared.steps import StepRegistry
from shared.steps.builtin import BUILTIN_STEPS
from tests.shared.test_validation import CORPUS, EVERYTHING_JSON, EVERYTHING_YAML, EXPECTED, assert_problems

RPA = Path(sys.executable).parent / "rpa"
REGISTRY = StepRegistry(BUILTIN_STEPS)


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run `rpa ARGS` in-process; fail on any exception other than a clean exit."""
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"rpa {' '.join(args)} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    return result


def write(path: Path, document: dict[str, Any] | str) -> Path:
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `rpa run` without --journal puts artifacts under the current folder.
    monkeypatch.chdir(tmp_path)


# -- rpa schema ---------------------------------------------------------------------------------


def _check(schema: dict[str, Any], value: Any, root: dict[str, Any], where: str = "$") -> list[str]:  # noqa: C901
    """A small JSON Schema checker for the keywords pydantic emits (used when jsonschema is absent)."""
    if "$ref" in schema:
        return _check(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], value, root, where)
    if "anyOf" in schema:
        options = [_check(option, value, root, where) for option in schema["anyOf"]]
        return [] if any(not errors for errors in options) else [f"{where}: matches no option"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    if "const" in schema and value != schema["const"]:
        return [f"{where}: {value!r} is not {schema['const']!r}"]
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
    kind = schema.get("type")
    if kind in ("integer", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or (kind == "integer" and not isinstance(value, int)):
            return [f"{where}: not an {kind}"]
    elif kind in types and not isinstance(value, types[kind]):
        return [f"{where}: not {kind}"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{where}: '{key}' is required" for key in schema.get("required", []) if key not in value]
        for key, item in value.items():
            if key in properties:
                errors += _check(properties[key], item, root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: '{key}' is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _check(schema["additionalProperties"], item, root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += _check(schema["items"], item, root, f"{where}[{index}]")
    return errors


def _schema() -> dict[str, Any]:
    result = invoke("schema")
    assert result.exit_code == 0
    schema: dict[str, Any] = json.loads(result.stdout)
    return schema


def test_schema_prints_the_json_schema_of_the_format() -> None:
    schema = _schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "RPA flow (rpa.flow/1)"
    assert {"schema", "name"} <= set(schema["required"])
    assert {"schema", "name", "inputs", "outputs", "variables", "settings", "nodes", "edges"} <= set(
        schema["properties"]
    )
    assert schema["additionalProperties"] is False
    node = schema["$defs"]["Node"]["properties"]
    # Aliases, as documents spell them.
    assert {"finally", "on_error", "retry", "timeout_s", "set", "body", "catch"} <= set(node)
    assert "finally_" not in node
    assert {"from", "port", "to"} == set(schema["$defs"]["Edge"]["properties"])


@pytest.mark.parametrize("text", [EVERYTHING_YAML, EVERYTHING_JSON], ids=["yaml", "json"])
def test_schema_accepts_valid_flows(text: str) -> None:
    schema = _schema()
    assert _check(schema, parse_document(text), schema) == []


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"colour": "blue"}, "'colour' is not allowed"),
        ({"nodes": [{"id": "a"}]}, "'type' is required"),
        ({"nodes": [{"id": "a", "type": "core.noop", "on_error": "explode"}]}, "not in"),
        ({"schema": "rpa.flow/2"}, "is not 'rpa.flow/1'"),
        ({"edges": [{"from": "a", "too": "b"}]}, "'too' is not allowed"),
    ],
)
def test_schema_rejects_what_the_format_forbids(change: dict[str, Any], complaint: str) -> None:
    schema = _schema()
    document = {"schema": "rpa.flow/1", "name": "t", "nodes": []} | change
    errors = _check(schema, document, schema)
    assert any(complaint in error for error in errors), errors


def test_schema_validates_a_sample_flow_with_jsonschema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = _schema()
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(parse_document(EVERYTHING_YAML))) == []
    assert list(validator.iter_errors({"schema": "rpa.flow/1", "name": "t", "colour": 1}))


# -- rpa validate -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "suffix"), [(EVERYTHING_YAML, ".yaml"), (EVERYTHING_JSON, ".json")])
def test_validate_a_valid_flow_exits_0(tmp_path: Path, text: str, suffix: str) -> None:
    path = write(tmp_path / f"flow{suffix}", text)
    result = invoke("validate", str(path))
    assert result.exit_code == 0
    assert f"{path}: valid" in result.stdout
    as_json = invoke("validate", str(path), "--json")
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout) == {"valid": True, "problems": []}


CORPUS_FILES = [name for name, entry in EXPECTED.items() if "bug" not in entry]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_validate_json_reports_the_corpus_problems_and_exits_2(name: str) -> None:
    result = invoke("validate", str(CORPUS / name), "--json")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert set(report) == {"valid", "problems"}
    assert report["valid"] is False
    for problem in report["problems"]:
        assert {"path", "message", "code"} <= set(problem) <= {"path", "message", "code", "line", "column"}
    assert_problems(report["problems"], EXPECTED[name]["problems"])


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_validate_prints_each_problem_with_its_path_and_exits_2(name: str) -> None:
    result = invoke("validate", str(CORPUS / name))
    assert result.exit_code == 2
    assert result.stdout == ""
    for problem in EXPECTED[name]["problems"]:
        if problem["code"] == "syntax":
            assert f"{CORPUS / name}:{problem['line']}:{problem['column']}: {problem['message']}" in result.stderr
        else:
            assert f"{problem['path']}: " in result.stderr
            assert problem["message"] in result.stderr


def test_validate_counts_the_problems() -> None:
    result = invoke("validate", str(CORPUS / "many_problems.yaml"))
    count = len(EXPECTED["many_problems.yaml"]["problems"])
    assert f"many_problems.yaml: {count} problems" in result.stderr


def test_validate_a_missing_file_exits_2_with_a_sentence(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    as_json = invoke("validate", str(tmp_path / "nope.yaml"), "--json")
    assert as_json.exit_code == 2
    (problem,) = json.loads(as_json.stdout)["problems"]
    assert problem["path"] == "$"
    assert "no such file" in problem["message"]


# -- rpa steps ----------------------------------------------------------------------------------


def test_steps_lists_every_builtin() -> None:
    result = invoke("steps", env={"COLUMNS": "250"})
    assert result.exit_code == 0
    # The installed step families (entry points) are listed too.
    assert f"{len(list(StepRegistry.default()))} steps" in result.stdout
    for definition in REGISTRY:
        assert definition.name in result.stdout
        assert definition.summary in result.stdout
    # Optional params carry a '?', required ones do not.
    assert "seconds " in result.stdout
    assert "message, level?" in result.stdout


def test_steps_json_describes_every_builtin_with_its_params_schema() -> None:
    result = invoke("steps", "--json")
    assert result.exit_code == 0
    catalogue = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert set(catalogue) == {d.name for d in StepRegistry.default()} >= {d.name for d in REGISTRY}
    for entry in catalogue.values():
        assert {
            "name",
            "summary",
            "docs",
            "kind",
            "capability",
            "output",
            "ports",
            "bodies",
            "params",
        } <= set(entry)
        assert entry["params"]["type"] == "object"
        assert entry["params"].get("additionalProperties") is False
        assert entry["summary"]
    assert catalogue["core.wait"]["params"]["required"] == ["seconds"]
    assert catalogue["core.wait"]["params"]["properties"]["seconds"]["type"] == "number"
    assert catalogue["control.if"]["ports"] == ["true", "false"]
    assert catalogue["control.if"]["kind"] == "router"
    assert catalogue["control.try"]["bodies"] == ["body", "catch", "finally"]
    assert catalogue["control.foreach"]["kind"] == "container"
    assert catalogue["flow.call"]["kind"] == "subflow"
    assert set(catalogue["data.query"]["params"]["properties"]["language"]["enum"]) == {
        "jmespath",
        "jsonpath",
    }


# -- rpa run ------------------------------------------------------------------------------------

ECHO = {
    "schema": "rpa.flow/1",
    "name": "echo",
    "inputs": {
        "n": {"type": "integer", "required": True},
        "who": {"type": "string", "default": "world"},
        "anything": {"type": "any"},
    },
    "nodes": [
        {"id": "double", "type": "core.noop", "params": {"value": "{{ inputs.n * 2 }}"}},
        {"id": "greet", "type": "data.template", "params": {"template": "hello {{ inputs.who }}"}},
    ],
    "edges": [{"from": "double", "to": "greet"}],
    "outputs": {
        "double": "{{ steps.double.output }}",
        "greeting": "{{ steps.greet.output }}",
        "anything": "{{ inputs.anything }}",
    },
}

FAILING = {
    "schema": "rpa.flow/1",
    "name": "failing",
    "nodes": [
        {"id": "load", "type": "core.noop", "params": {"value": 3}},
        {
            "id": "check_total",
            "type": "core.fail",
            "params": {"message": "total {{ steps.load.output }} does not match"},
        },
        {"id": "never", "type": "core.noop"},
    ],
    "edges": [{"from": "load", "to": "check_total"}, {"from": "check_total", "to": "never"}],
}


def run_json(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, dict[str, Any]]:
    result = invoke("run", *args, "--json", env=env)
    return result.exit_code, json.loads(result.stdout)


def test_run_json_prints_status_outputs_and_execution_id(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    code, report = run_json(str(flow), "--input", "n=21")
    assert code == 0
    assert {"status", "outputs", "execution_id"} <= set(report)
    assert report["status"] == "succeeded"
    assert report["outputs"] == {"double": 42, "greeting": "hello world", "anything": None}
    assert len(report["execution_id"]) >= 8


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("21", 21),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('["a", "b"]', ["a", "b"]),
        ('{"k": {"n": 1}}', {"k": {"n": 1}}),
        ('"42"', "42"),
        ("Ann", "Ann"),
        ("two words", "two words"),
        ("a=b", "a=b"),
        ("", ""),
        ("[not json", "[not json"),
    ],
)
def test_run_input_values_are_json_when_they_parse_and_text_otherwise(tmp_path: Path, raw: str, value: Any) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    code, report = run_json(str(flow), "-i", "n=1", "--input", f"anything={raw}")
    assert code == 0
    assert report["outputs"]["anything"] == value


def test_run_reads_inputs_from_a_yaml_or_json_file_and_input_overrides_it(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    yaml_inputs = write(tmp_path / "inputs.yaml", "n: 5\nwho: Ann\nanything: [1, 2]\n")
    code, report = run_json(str(flow), "--inputs-file", str(yaml_inputs))
    assert code == 0
    assert report["outputs"] == {"double": 10, "greeting": "hello Ann", "anything": [1, 2]}
    json_inputs = write(tmp_path / "inputs.json", {"n": 5, "who": "Bea"})
    code, report = run_json(str(flow), "--inputs-file", str(json_inputs), "--input", "who=Cy")
    assert code == 0
    assert report["outputs"]["greeting"] == "hello Cy"
    assert report["outputs"]["double"] == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "n=abc"], "inputs.n: expected integer, got str 'abc'"),
        (["--input", "n=1.5"], "inputs.n: expected integer"),
        ([], "inputs.n: required input is missing"),
        (["-i", "n=1", "-i", "colour=red"], "inputs.colour: the flow declares no such input"),
        (["--input", "n"], "--input 'n': expected NAME=VALUE"),
        (["--input", "=3"], "expected NAME=VALUE"),
    ],
)
def test_run_with_bad_inputs_exits_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    result = invoke("run", str(flow), *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "error:" in result.stderr
    assert result.stdout == ""


def test_run_reports_every_input_problem_at_once(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    result = invoke("run", str(flow), "-i", "who=3", "-i", "extra=1")
    assert result.exit_code == 2
    for message in (
        "inputs.n: required input is missing",
        "inputs.who: expected string, got int 3",
        "inputs.extra: the flow declares no such input",
    ):
        assert message in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [("[1, 2]\n", "expected an object of input names to values"), ('{"n": 1,,}', "invalid JSON")],
)
def test_run_with_a_bad_inputs_file_exits_2(tmp_path: Path, content: str, message: str) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    inputs = write(tmp_path / "inputs.json", content)
    result = invoke("run", str(flow), "--inputs-file", str(inputs))
    assert result.exit_code == 2
    assert f"--inputs-file {inputs}" in result.stderr
    assert message in result.stderr


def test_run_with_a_missing_inputs_file_exits_2(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    result = invoke("run", str(flow), "--inputs-file", str(tmp_path / "absent.yaml"))
    assert result.exit_code == 2
    assert "absent.yaml" in result.stderr


def test_a_failing_flow_exits_1_and_names_the_node_and_the_reason(tmp_path: Path) -> None:
    flow = write(tmp_path / "failing.json", FAILING)
    result = invoke("run", str(flow))
    assert result.exit_code == 1
    assert "node 'check_total' failed: total 3 does not match" in result.output
    assert "failed failing" in result.output


def test_a_failing_flow_in_json_carries_the_error(tmp_path: Path) -> None:
    flow = write(tmp_path / "failing.json", FAILING)
    code, report = run_json(str(flow))
    assert code == 1
    assert report["status"] == "failed"
    assert report["outputs"] == {}
    assert report["error"]["node"] == "check_total"
    assert report["error"]["message"] == "total 3 does not match"
    assert report["error"]["kind"] == "business"


def test_run_a_successful_flow_prints_a_summary_with_outputs(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    result = invoke("run", str(flow), "-i", "n=4")
    assert result.exit_code == 0
    assert "succeeded echo" in result.output
    assert '"double": 8' in result.output


@pytest.mark.parametrize("name", ["many_problems.yaml", "invalid_json.json", "unknown_step_type.json"])
def test_run_refuses_an_invalid_flow_with_exit_2(name: str) -> None:
    result = invoke("run", str(CORPUS / name), "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    first = EXPECTED[name]["problems"][0]
    assert first["message"] in result.stderr


def test_run_a_missing_flow_file_exits_2(tmp_path: Path) -> None:
    result = invoke("run", str(tmp_path / "absent.json"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_run_calls_a_sub_flow_next_to_the_flow_file(tmp_path: Path) -> None:
    write(
        tmp_path / "child.yaml",
        (
            "schema: rpa.flow/1\nname: child\ninputs: {x: {type: integer, required: true}}\n"
            "nodes: [{id: square, type: core.noop, params: {value: '{{ inputs.x * inputs.x }}'}}]\n"
            "outputs: {square: '{{ steps.square.output }}'}\n"
        ),
    )
    parent = write(
        tmp_path / "parent.json",
        {
            "schema": "rpa.flow/1",
            "name": "parent",
            "nodes": [{"id": "call", "type": "flow.call", "params": {"flow": "child", "inputs": {"x": 7}}}],
            "outputs": {"result": "{{ steps.call.output.square }}"},
        },
    )
    code, report = run_json(str(parent))
    assert (code, report["outputs"]) == (0, {"result": 49})


# -- journal and resume -------------------------------------------------------------------------

RESUMABLE = {
    "schema": "rpa.flow/1",
    "name": "resumable",
    "inputs": {"order": {"type": "string", "required": True}},
    "nodes": [
        {"id": "stamp", "type": "core.noop", "params": {"value": "{{ now() }}"}},
        {
            "id": "pause",
            "type": "core.wait",
            "params": {"seconds": "{{ env.get('RPA_TEST_PAUSE', '0') | to_float }}"},
        },
        {"id": "finish", "type": "data.template", "params": {"template": "{{ inputs.order }} done"}},
    ],
    "edges": [{"from": "stamp", "to": "pause"}, {"from": "pause", "to": "finish"}],
    "outputs": {"stamp": "{{ steps.stamp.output }}", "result": "{{ steps.finish.output }}"},
}


def interrupt(flow_path: Path, journal_path: Path, execution_id: str) -> None:
    """Start the flow with the engine and stop its task from outside while `pause` waits,
    the way a host that shuts down does: the journal is left unfinished."""

    async def main() -> None:
        flow = load_flow(flow_path, registry=REGISTRY)
        journal = SqliteJournal(journal_path, execution_id)
        paused = asyncio.Event()

        def on_events(batch: Any) -> None:
            if any(e.type == "node.started" and e.path == "pause" for e in batch):
                paused.set()

        journal.subscribe(on_events)
        engine = Engine(REGISTRY, env={"RPA_TEST_PAUSE": "60"}, artifacts_dir=journal_path.parent / "artifacts")
        task = asyncio.create_task(engine.run(flow, {"order": "A-17"}, journal=journal))
        await asyncio.wait_for(paused.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        journal.close()

    asyncio.run(main())


def events_of(journal_path: Path, execution_id: str) -> list[Any]:
    journal = SqliteJournal(journal_path, execution_id)
    try:
        return journal.read()
    finally:
        journal.close()


def test_run_with_journal_records_a_finished_execution(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    journal = tmp_path / "runs.db"
    code, report = run_json(str(flow), "-i", "n=2", "--journal", str(journal))
    assert code == 0
    assert SqliteJournal.executions(journal) == [(report["execution_id"], True)]
    types = [e.type for e in events_of(journal, report["execution_id"])]
    assert types[0] == "execution.started"
    assert types[-1] == "execution.finished"


def test_resume_finishes_the_interrupted_execution_without_rerunning_finished_nodes(tmp_path: Path) -> None:
    flow = write(tmp_path / "resumable.json", RESUMABLE)
    journal = tmp_path / "runs.db"
    # An older, finished execution in the same file must be left alone.
    code, finished = run_json(str(flow), "-i", "order=old", "--journal", str(journal), env={"RPA_TEST_PAUSE": None})
    assert code == 0
    interrupt(flow, journal, "interrupted-run")
    assert dict(SqliteJournal.executions(journal)) == {
        finished["execution_id"]: True,
        "interrupted-run": False,
    }
    before = events_of(journal, "interrupted-run")
    (recorded_stamp,) = [e.data["output"] for e in before if e.type == "node.succeeded" and e.path == "stamp"]
    assert before[-1].type == "node.started"
    assert before[-1].path == "pause"

    code, report = run_json(str(flow), "--journal", str(journal), "--resume", env={"RPA_TEST_PAUSE": None})

    assert code == 0
    assert report["execution_id"] == "interrupted-run"
    assert report["status"] == "succeeded"
    # The inputs come from the journal, and the finished node's output is replayed, not recomputed.
    assert report["outputs"] == {"stamp": recorded_stamp, "result": "A-17 done"}
    events = events_of(journal, "interrupted-run")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    started = Counter(e.path for e in events if e.type == "node.started")
    assert started == {"stamp": 1, "pause": 2, "finish": 1}
    assert [e.type for e in events].count("execution.started") == 1
    assert [e.type for e in events].count("execution.finished") == 1
    assert dict(SqliteJournal.executions(journal)) == {
        finished["execution_id"]: True,
        "interrupted-run": True,
    }


def test_resume_without_an_unfinished_execution_exits_2(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    journal = tmp_path / "runs.db"
    assert run_json(str(flow), "-i", "n=1", "--journal", str(journal))[0] == 0
    result = invoke("run", str(flow), "--journal", str(journal), "--resume")
    assert result.exit_code == 2
    assert f"{journal}: no unfinished execution to resume" in result.stderr
    empty = invoke("run", str(flow), "--journal", str(tmp_path / "new.db"), "--resume")
    assert empty.exit_code == 2
    assert "no unfinished execution to resume" in empty.stderr


def test_resume_without_a_journal_exits_2(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    result = invoke("run", str(flow), "--resume")
    assert result.exit_code == 2
    assert "--resume needs --journal PATH" in result.stderr


# -- the console script -------------------------------------------------------------------------


def rpa(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RPA_TEST_PAUSE"}
    return subprocess.run([str(RPA), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False)


def test_help_lists_the_local_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("schema", "validate", "steps", "run", "demo"):
        assert command in result.stdout


def test_the_rpa_console_script_runs_a_flow(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    done = rpa("run", str(flow), "--json", "--input", "n=4", "--input", "who=Dee")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "succeeded"
    assert report["outputs"]["double"] == 8
    assert report["outputs"]["greeting"] == "hello Dee"


def test_the_rpa_console_script_reports_an_invalid_flow_without_a_traceback() -> None:
    done = rpa("validate", str(CORPUS / "many_problems.yaml"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "$.nodes[0].type: unknown step type 'core.nop'" in done.stderr
    failed = rpa("run", str(CORPUS / "invalid_yaml.yaml"))
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr + failed.stdout
    assert "invalid_yaml.yaml:6:4: invalid YAML" in failed.stderr


def test_run_finishes_a_flow_with_parallel_branches(tmp_path: Path) -> None:
    """Two nodes ready at once and finishing in the same loop tick once made the scheduler wait
    forever; a subprocess with a timeout turns such a hang into a quick failure."""
    flow = write(
        tmp_path / "fork.json",
        {
            "schema": "rpa.flow/1",
            "name": "fork",
            "nodes": [
                {"id": "left", "type": "core.noop", "params": {"value": 1}},
                {"id": "right", "type": "core.noop", "params": {"value": 2}},
            ],
            "outputs": {"sum": "{{ steps.left.output + steps.right.output }}"},
        },
    )
    try:
        done = rpa("run", str(flow), "--json", timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("rpa run did not finish within 10 s")
    assert json.loads(done.stdout)["outputs"] == {"sum": 3}


def test_ctrl_c_leaves_a_journal_that_resume_finishes(tmp_path: Path) -> None:
    flow = write(tmp_path / "resumable.json", RESUMABLE)
    journal = tmp_path / "runs.db"
    # PYTHONFAULTHANDLER: a child that does not stop is asked for its threads' stacks (SIGABRT),
    # so a failure says where it hung.
    env = {**os.environ, "RPA_TEST_PAUSE": "60", "PYTHONFAULTHANDLER": "1"}
    # A process started in the background by a non-interactive shell ignores SIGINT, and so would
    # the run it starts: the run is started with Ctrl-C's default, as from a terminal.
    interruptible = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", interruptible, str(RPA), "run", str(flow), "-i", "order=B-2", "--journal", str(journal)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    with child:  # the pipes are closed whatever happens
        try:
            deadline = time.monotonic() + 20
            while not any(
                e.path == "pause" for eid, _ in SqliteJournal.executions(journal) for e in events_of(journal, eid)
            ):
                assert child.poll() is None, child.communicate()
                assert time.monotonic() < deadline, "the run never reached the pause"
                time.sleep(0.02)
            child.send_signal(signal.SIGINT)
            stdout, stderr = child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            status = Path(f"/proc/{child.pid}/status").read_text()
            dispositions = [line for line in status.splitlines() if line.startswith("Sig")]
            child.send_signal(signal.SIGABRT)
            _, stderr = child.communicate(timeout=10)
            pytest.fail(
                f"rpa run did not stop within 20 s of Ctrl-C (its signal masks: {dispositions}); "
                f"its stacks:\n{stderr[-6000:]}"
            )
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 130
    assert "Traceback" not in stdout + stderr
    assert f"interrupted (resume with: rpa run {flow} --journal {journal} --resume)" in stderr
    ((execution_id, finished),) = SqliteJournal.executions(journal)
    assert finished is False

    code, report = run_json(str(flow), "--journal", str(journal), "--resume", env={"RPA_TEST_PAUSE": None})
    assert (code, report["execution_id"], report["outputs"]["result"]) == (0, execution_id, "B-2 done")


# -- the docs stay in step with the catalogue and the commands ----------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_steps_page_describes_every_builtin_step_and_param() -> None:
    page = (DOCS / "steps.md").read_text(encoding="utf-8")
    for definition in REGISTRY:
        heading = f"### `{definition.name}`\n"
        assert heading in page, definition.name
        section = page.split(heading, 1)[1].split("\n### ", 1)[0]
        for name in definition.params.model_fields:
            assert f"| `{name}` |" in section, f"{definition.name}.{name}"


def test_the_cli_page_covers_every_command_and_option() -> None:
    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert {"schema", "validate", "steps", "run", "demo"} <= set(commands)
    for name, command in commands.items():
        assert f"## `rpa {name}`" in page, name
        for param in command.params:
            for option in param.opts:
                if option.startswith("-") and option != "--help":
                    assert f"`{option}" in page, f"rpa {name} {option}"


def test_run_takes_secrets_from_a_file_and_rpa_secret_variables_and_masks_them(tmp_path: Path) -> None:
    flow = write(
        tmp_path / "secret.json",
        {
            "schema": "rpa.flow/1",
            "name": "secret",
            "nodes": [{"id": "n", "type": "data.template", "params": {"template": "{{ secrets.erp }}"}}],
            "outputs": {
                "password_length": "{{ secrets.erp | length }}",
                "user_length": "{{ secrets['erp.username'] | length }}",
                "token_length": "{{ secrets.api | length }}",
                "echo": "{{ steps.n.output }}",
            },
        },
    )
    secrets = write(tmp_path / "secrets.yaml", "erp:\n  username: robot\n  password: pa55-w0rd-long\n")
    result = invoke("run", str(flow), "--secrets", str(secrets), "--json", env={"RPA_SECRET_API": "tok-123456"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["outputs"] == {"password_length": 14, "user_length": 5, "token_length": 10, "echo": "***"}
    assert "pa55-w0rd-long" not in result.output
    assert "tok-123456" not in result.output


def test_run_with_a_secrets_file_that_is_not_an_object_exits_2(tmp_path: Path) -> None:
    flow = write(tmp_path / "echo.json", ECHO)
    secrets = write(tmp_path / "secrets.json", "[1, 2]")
    result = invoke("run", str(flow), "--secrets", str(secrets))
    assert result.exit_code == 2
    assert "--secrets" in result.output
    assert "expected an object" in result.output

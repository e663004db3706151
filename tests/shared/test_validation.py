"""Validation of flow documents: every problem at once, each at its exact JSON path.

The invalid-flow corpus lives in `invalid_flows/`: one small file per kind of problem, and
`invalid_flows/expected.json` mapping each file to the problems it must produce (path, code,
message substring; line and column for syntax errors). A corpus entry with a `bug` key is a
case the validator gets wrong today; it runs as a strict xfail naming the bug.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import FlowInvalidError, FlowLoadError
from shared.flow import Flow, Problem, load_flow, parse_document, validate_document, validate_flow
from shared.flow._load import read_document
from shared.flow._validate import json_path
from shared.steps import StepRegistry
from shared.steps.builtin import BUILTIN_STEPS

CORPUS = Path(__file__).parent / "invalid_flows"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))
DOCS = Path(__file__).resolve().parents[2] / "docs"

REGISTRY = StepRegistry(BUILTIN_STEPS)

CODES = {
    "syntax",
    "schema",
    "unknown_step",
    "missing_param",
    "invalid_param",
    "unknown_param",
    "dangling_edge",
    "unknown_port",
    "cycle",
    "unreachable",
    "duplicate_id",
    "expression",
    "missing_body",
    "unexpected_body",
    "fallback_without_route",
    "retry",
}


def problems_of_file(path: Path) -> list[dict[str, Any]]:
    """What `rpa validate --json` reports for a file: syntax errors as one problem at `$`."""
    try:
        document = read_document(path)
    except FlowLoadError as exc:
        return [{"path": "$", "code": "syntax", "message": exc.message, "line": exc.line, "column": exc.column}]
    return [p.to_dict() for p in validate_document(document, REGISTRY)]


def matches(problem: dict[str, Any], expected: dict[str, Any]) -> bool:
    return (
        problem["path"] == expected["path"]
        and ("code" not in expected or problem.get("code") == expected["code"])
        and expected["message"] in problem["message"]
        and all(problem.get(key) == expected[key] for key in ("line", "column") if key in expected)
    )


def assert_problems(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """Every expected problem is reported, and nothing else is."""
    missing = [e for e in expected if not any(matches(p, e) for p in found)]
    unexpected = [p for p in found if not any(matches(p, e) for e in expected)]
    assert not missing, f"not reported: {json.dumps(missing, indent=1)}\nreported: {json.dumps(found, indent=1)}"
    assert not unexpected, f"reported but not expected: {json.dumps(unexpected, indent=1)}"


def corpus_cases() -> list[Any]:
    cases = []
    for name, entry in EXPECTED.items():
        marks = [pytest.mark.xfail(strict=True, reason=entry["bug"])] if "bug" in entry else []
        cases.append(pytest.param(name, entry["problems"], id=name, marks=marks))
    return cases


# -- the corpus ---------------------------------------------------------------------------------


def test_every_corpus_file_has_an_expectation_and_every_expectation_a_file() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".json", ".yaml") and p.name != "expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize(("name", "expected"), corpus_cases())
def test_corpus_file_reports_exactly_its_problems(name: str, expected: list[dict[str, Any]]) -> None:
    assert_problems(problems_of_file(CORPUS / name), expected)


@pytest.mark.parametrize(
    "name",
    [name for name, entry in EXPECTED.items() if "bug" not in entry and entry["problems"][0]["code"] != "syntax"],
)
def test_load_flow_raises_every_problem_the_validator_reports(name: str) -> None:
    with pytest.raises(FlowInvalidError) as raised:
        load_flow(CORPUS / name, registry=REGISTRY)
    assert [p.to_dict() for p in raised.value.problems] == problems_of_file(CORPUS / name)
    first = raised.value.problems[0]
    assert f"{first.path}: {first.message}" in str(raised.value)


@pytest.mark.parametrize("name", ["invalid_json.json", "invalid_yaml.yaml"])
def test_syntax_errors_carry_line_and_column(name: str) -> None:
    expected = EXPECTED[name]["problems"][0]
    with pytest.raises(FlowLoadError) as raised:
        load_flow(CORPUS / name, registry=REGISTRY)
    assert (raised.value.line, raised.value.column) == (expected["line"], expected["column"])
    assert f"(line {expected['line']}, column {expected['column']})" in str(raised.value)


def test_one_run_reports_every_problem_of_a_broken_flow() -> None:
    found = problems_of_file(CORPUS / "many_problems.yaml")
    expected = EXPECTED["many_problems.yaml"]["problems"]
    assert_problems(found, expected)
    # Shape problems (pydantic) and graph problems (the catalogue walk) come from one run.
    assert {p["code"] for p in found} == {e["code"] for e in expected}
    assert len({e["code"] for e in expected}) >= 13


def test_unknown_step_type_suggests_close_names_only_when_there_are_some() -> None:
    found = {p["path"]: p["message"] for p in problems_of_file(CORPUS / "unknown_step_type.json")}
    assert "did you mean 'core.noop'" in found["$.nodes[0].type"]
    assert "did you mean" not in found["$.nodes[1].type"]


def test_cycle_message_lists_the_nodes_of_the_cycle_in_edge_order() -> None:
    (problem,) = problems_of_file(CORPUS / "cycle.json")
    cycle = problem["message"].split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert cycle[0] == cycle[-1]
    edges = {(e["from"], e["to"]) for e in json.loads((CORPUS / "cycle.json").read_text())["edges"]}
    assert all((a, b) in edges for a, b in itertools.pairwise(cycle))
    assert "start" not in cycle


def test_a_bad_id_is_not_also_reported_as_a_duplicate_or_a_dangling_edge() -> None:
    found = problems_of_file(CORPUS / "bad_node_ids.json")
    assert {p["code"] for p in found} == {"schema"}


# -- valid flows --------------------------------------------------------------------------------

EVERYTHING_YAML = """\
schema: rpa.flow/1
name: every construct
description: Exercises every part of the format.
version: "1.2.0"
tags: [example, orders]
requires: [core]
inputs:
  orders: {type: array, required: true, description: Orders to price}
  region: {type: string, default: eu}
  limit: {type: integer, default: 3}
  strict: {type: boolean, default: false}
  options: {type: object, default: {}}
  ratio: {type: number, default: 0.5}
  anything: {}
variables:
  processed: 0
  label: "run {{ execution.id }}"
  seen: []
outputs:
  processed: "{{ vars.processed }}"
  summary: "{{ steps.summary.output }}"
  totals:
    count: "{{ steps.each_order.output | length }}"
    first: "{{ steps.each_order.output | first }}"
settings:
  timeout_s: 600
  max_parallel_nodes: 4
  priority: high
  max_concurrent_executions: 2
nodes:
  - id: start
    name: Announce
    type: core.log
    params: {message: "{{ inputs.orders | length }} orders", level: info}
    ui: {x: 10, y: 20}
  - id: has_orders
    type: control.if
    params: {condition: "{{ inputs.orders | length > 0 }}"}
  - id: nothing_to_do
    type: core.log
    params: {message: nothing to do}
  - id: by_region
    type: control.switch
    params: {value: "{{ inputs.region }}", cases: [eu, us]}
  - {id: eu_rules, type: core.noop, params: {value: {vat: 0.2}}}
  - {id: us_rules, type: core.noop, params: {value: {vat: 0}}}
  - {id: other_rules, type: core.noop}
  - id: each_order
    type: control.foreach
    params: {items: "{{ inputs.orders }}", concurrency: 2, collect: "{{ steps.price.output }}"}
    timeout_s: 120
    on_error: continue
    body:
      nodes:
        - id: price
          type: data.convert
          params: {value: "{{ item.amount }}", to: number}
          retry: {max_attempts: 3, backoff_s: 0.5, factor: 2, max_delay_s: 5, "on": [timeout, application]}
          timeout_s: 10
          set: {processed: "{{ vars.processed + 1 }}"}
        - id: is_big
          type: control.if
          params: {condition: "{{ steps.price.output > 100 }}"}
        - id: note_big
          type: core.log
          params: {message: "order {{ index }} is big", level: warning}
      edges:
        - {from: price, to: is_big}
        - {from: is_big, port: "true", to: note_big}
  - id: fan_out
    type: control.parallel_foreach
    params: {items: 3, concurrency: 3}
    body:
      nodes:
        - {id: tick, type: core.wait, params: {seconds: 0}}
  - id: poll
    type: control.while
    params: {condition: "{{ index < inputs.limit }}", max_iterations: 10, collect: "{{ index }}"}
    body:
      nodes:
        - {id: poll_once, type: core.noop, params: {value: "{{ index }}"}}
  - id: guarded
    type: control.try
    body:
      nodes:
        - {id: parse, type: data.parse_json, params: {text: '{"ok": true}'}}
        - id: pick
          type: data.query
          params: {data: "{{ steps.parse.output }}", query: "$.ok", language: jsonpath, first: true}
      edges:
        - {from: parse, to: pick}
    catch:
      nodes:
        - {id: report, type: core.log, params: {message: "failed: {{ error.message }}", level: error}}
    finally:
      nodes:
        - {id: cleanup, type: core.noop}
  - id: fetch
    type: core.fail
    params: {message: service down, kind: unavailable, retryable: true}
    retry: {max_attempts: 2, backoff_s: 0.1}
    on_error: fallback
  - {id: use_cache, type: core.noop, params: {value: "{{ error.message }}"}}
  - {id: fresh, type: core.noop}
  - id: optional
    type: core.wait
    params: {seconds: 0}
    on_error: skip
  - id: tolerant
    type: data.parse_json
    params: {text: not json}
    on_error: continue
  - id: child
    type: flow.call
    params: {flow: child, inputs: {n: "{{ vars.processed }}"}}
  - id: remember
    type: data.set_variable
    params: {name: last_child, value: "{{ steps.child.output }}"}
  - id: remember_many
    type: data.set_variables
    params: {values: {a: 1, b: "{{ inputs.region | upper }}"}}
  - id: digits
    type: data.regex
    params: {text: "order 42", pattern: '(\\d+)', mode: search, group: 1}
  - id: table
    type: data.format_csv
    params: {rows: [{a: 1}, {a: 2}], delimiter: ";"}
  - id: rows
    type: data.parse_csv
    params: {text: "{{ steps.table.output }}", delimiter: ";"}
  - id: summary
    type: data.template
    params: {template: "{{ vars.processed }} orders, {{ steps.rows.output | length }} rows"}
  - id: when
    type: data.date_parse
    params: {value: "07/12/2026", format: "%d/%m/%Y", timezone: Europe/Lisbon}
  - id: due
    type: data.date_add
    params: {value: "{{ steps.when.output }}", business_days: 10, holidays: ["2026-12-25"]}
  - id: due_label
    type: data.date_format
    params: {value: "{{ steps.due.output }}", format: "%d %b %Y"}
  - id: open_days
    type: data.business_days
    params: {start: "{{ steps.when.output }}", end: "{{ steps.due.output }}"}
  - id: paid
    type: data.filter
    params: {table: "{{ steps.rows.output }}", where: "row.amount > 10"}
  - id: by_amount
    type: data.sort
    params: {table: "{{ steps.paid.output }}", by: ["-amount"]}
  - id: with_tax
    type: data.map
    params: {table: "{{ steps.by_amount.output }}", compute: {gross: "row.amount * 1.2"}, rename: {id: order}}
  - id: totals
    type: data.group
    params: {table: "{{ steps.with_tax.output }}", by: [region], aggregates: {total: {op: sum, column: gross}}}
  - id: joined
    type: data.join
    params: {left: "{{ steps.totals.output }}", right: "{{ inputs.orders }}", on: [region], how: left}
  - id: unique
    type: data.dedupe
    params: {table: "{{ steps.joined.output }}", columns: [region]}
  - id: wide
    type: data.pivot
    params: {table: "{{ steps.rows.output }}", index: [region], columns: status, values: amount, aggregate: sum}
  - id: long
    type: data.unpivot
    params: {table: "{{ steps.wide.output }}", keep: [region]}
  - id: top
    type: data.slice
    params: {table: "{{ steps.unique.output }}", limit: 3}
  - {id: done, type: core.noop}
edges:
  - {from: start, to: has_orders}
  - {from: has_orders, port: "false", to: nothing_to_do}
  - {from: has_orders, port: "true", to: by_region}
  - {from: by_region, port: eu, to: eu_rules}
  - {from: by_region, port: us, to: us_rules}
  - {from: by_region, port: default, to: other_rules}
  - {from: eu_rules, to: each_order}
  - {from: us_rules, to: each_order}
  - {from: other_rules, to: each_order}
  - {from: each_order, to: fan_out}
  - {from: fan_out, to: poll}
  - {from: poll, to: guarded}
  - {from: guarded, to: fetch}
  - {from: fetch, port: error, to: use_cache}
  - {from: fetch, to: fresh}
  - {from: use_cache, to: optional}
  - {from: fresh, to: optional}
  - {from: optional, to: tolerant}
  - {from: tolerant, to: child}
  - {from: child, to: remember}
  - {from: remember, to: remember_many}
  - {from: remember_many, to: digits}
  - {from: digits, to: table}
  - {from: table, to: rows}
  - {from: rows, to: summary}
  - {from: summary, to: when}
  - {from: when, to: due}
  - {from: due, to: due_label}
  - {from: due_label, to: open_days}
  - {from: open_days, to: paid}
  - {from: paid, to: by_amount}
  - {from: by_amount, to: with_tax}
  - {from: with_tax, to: totals}
  - {from: totals, to: joined}
  - {from: joined, to: unique}
  - {from: unique, to: wide}
  - {from: wide, to: long}
  - {from: long, to: top}
  - {from: top, to: done}
  - {from: nothing_to_do, to: done}
"""

EVERYTHING_JSON = """\
{
  "schema": "rpa.flow/1",
  "name": "invoice check",
  "inputs": {
    "invoice": {"type": "object", "required": true},
    "tolerance": {"type": "number", "default": 0.01}
  },
  "variables": {"warnings": []},
  "outputs": {"status": "{{ steps.decide.output }}", "warnings": "{{ vars.warnings }}"},
  "settings": {"timeout_s": 30},
  "nodes": [
    {"id": "lines", "type": "data.query",
     "params": {"data": "{{ inputs.invoice }}", "query": "lines[].amount"}},
    {"id": "sum", "type": "core.noop", "params": {"value": "{{ steps.lines.output | sum }}"},
     "set": {"total": "{{ output }}"}},
    {"id": "matches", "type": "control.if",
     "params": {"condition": "{{ (steps.sum.output - inputs.invoice.total) | abs <= inputs.tolerance }}"}},
    {"id": "ok", "type": "core.noop", "params": {"value": "ok"}},
    {"id": "mismatch", "type": "data.set_variable",
     "params": {"name": "warnings", "value": "{{ vars.warnings + ['total differs'] }}"}},
    {"id": "decide", "type": "data.template",
     "params": {"template": "{{ 'ok' if vars.warnings | length == 0 else 'review' }}"}},
    {"id": "each_line", "type": "control.foreach", "params": {"items": "{{ inputs.invoice.lines }}"},
     "body": {
       "nodes": [
         {"id": "check_line", "type": "control.try",
          "body": {"nodes": [{"id": "as_number", "type": "data.convert",
                              "params": {"value": "{{ item.amount }}", "to": "number"}}]},
          "catch": {"nodes": [{"id": "flag", "type": "core.log",
                               "params": {"message": "line {{ index }}: {{ error.message }}",
                                          "level": "warning"}}]}}
       ]
     }},
    {"id": "archive", "type": "flow.call",
     "params": {"flow": "archive.json", "inputs": {"id": "{{ inputs.invoice.id }}"}},
     "timeout_s": 60, "on_error": "skip"}
  ],
  "edges": [
    {"from": "lines", "to": "sum"},
    {"from": "sum", "to": "matches"},
    {"from": "matches", "port": "true", "to": "ok"},
    {"from": "matches", "port": "false", "to": "mismatch"},
    {"from": "ok", "to": "decide"},
    {"from": "mismatch", "to": "decide"},
    {"from": "decide", "to": "each_line"},
    {"from": "each_line", "to": "archive"}
  ]
}
"""


@pytest.mark.parametrize("text", [EVERYTHING_YAML, EVERYTHING_JSON], ids=["yaml", "json"])
def test_a_flow_using_every_construct_validates_with_zero_problems(text: str) -> None:
    document = parse_document(text)
    assert validate_document(document, REGISTRY) == []


@pytest.mark.parametrize(("text", "suffix"), [(EVERYTHING_YAML, ".yaml"), (EVERYTHING_JSON, ".json")])
def test_load_flow_reads_a_valid_file_into_the_model(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"flow{suffix}"
    path.write_text(text, encoding="utf-8")
    flow = load_flow(path, registry=REGISTRY)
    assert isinstance(flow, Flow)
    document = parse_document(text)
    assert [n.id for n in flow.nodes] == [n["id"] for n in document["nodes"]]
    assert [(e.source, e.port, e.to) for e in flow.edges] == [
        (e["from"], e.get("port", "out"), e["to"]) for e in document["edges"]
    ]
    # The model's own document form is valid too (what the studio saves).
    assert validate_flow(flow, REGISTRY) == []
    assert validate_document(flow.to_document(), REGISTRY) == []


def _types(graph: dict[str, Any]) -> set[str]:
    found = set()
    for node in graph.get("nodes", []):
        found.add(node["type"])
        for body in ("body", "catch", "finally"):
            found |= _types(node.get(body, {}))
    return found


def test_the_everything_flow_uses_every_builtin_step_and_error_policy() -> None:
    """Guard for the valid fixture itself: it must really use what it claims to."""
    document = parse_document(EVERYTHING_YAML)
    assert _types(document) == {d.name for d in REGISTRY}
    assert {"skip", "continue", "fallback"} <= {node.get("on_error") for node in document["nodes"]}


def doc_examples() -> list[Any]:
    """Complete flows (with the schema tag) in the fenced blocks of docs/flow-format.md."""
    page = DOCS / "flow-format.md"
    if not page.exists():
        return []
    blocks = re.findall(r"```(json|yaml)\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    found = []
    for index, (language, text) in enumerate(blocks):
        if re.search(r'^\s*"?schema"?\s*:\s*"?rpa\.flow/1', text, re.MULTILINE):
            first = text.strip().splitlines()[0][:40]
            found.append(pytest.param(language, text, id=f"block{index}-{first}"))
    return found


def test_the_format_docs_hold_complete_examples() -> None:
    assert len(doc_examples()) >= 8


@pytest.mark.parametrize(("language", "text"), doc_examples())
def test_every_complete_example_in_the_docs_is_valid(language: str, text: str) -> None:
    document = json.loads(text) if language == "json" else yaml.safe_load(text)
    assert [p.to_dict() for p in validate_document(document, REGISTRY)] == []


# -- paths inside nested graphs -----------------------------------------------------------------


def _at(document: dict[str, Any], parts: tuple[Any, ...]) -> Any:
    for part in parts:
        document = document[part]
    return document


def _node_paths(graph: dict[str, Any], parts: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = []
    for index, node in enumerate(graph.get("nodes", [])):
        here = (*parts, "nodes", index)
        found.append(here)
        for body in ("body", "catch", "finally"):
            if body in node:
                found.extend(_node_paths(node[body], (*here, body)))
    return found


EVERYTHING = parse_document(EVERYTHING_YAML)
NODE_PATHS = _node_paths(EVERYTHING)


@pytest.mark.parametrize("parts", NODE_PATHS, ids=[json_path(p) for p in NODE_PATHS])
def test_an_unknown_type_anywhere_is_reported_at_that_node(parts: tuple[Any, ...]) -> None:
    document = copy.deepcopy(EVERYTHING)
    node = _at(document, parts)
    node["type"] = "core.nop"
    for key in ("params", "body", "catch", "finally", "retry", "set"):
        node.pop(key, None)
    problems = validate_document(document, REGISTRY)
    assert [(p.path, p.code) for p in problems] == [(json_path((*parts, "type")), "unknown_step")]


@pytest.mark.parametrize("parts", NODE_PATHS, ids=[json_path(p) for p in NODE_PATHS])
def test_a_broken_expression_anywhere_is_reported_at_that_param(parts: tuple[Any, ...]) -> None:
    document = copy.deepcopy(EVERYTHING)
    node = _at(document, parts)
    node.setdefault("set", {})["broken"] = "{{ output | }}"
    problems = validate_document(document, REGISTRY)
    assert [(p.path, p.code) for p in problems] == [(json_path((*parts, "set", "broken")), "expression")]


def test_a_duplicate_id_nested_two_levels_down_names_the_first_use() -> None:
    document = copy.deepcopy(EVERYTHING)
    # guarded (try) -> catch -> report: rename it to an id used at the top level.
    guarded = next(i for i, n in enumerate(document["nodes"]) if n["id"] == "guarded")
    document["nodes"][guarded]["catch"]["nodes"][0]["id"] = "start"
    problems = validate_document(document, REGISTRY)
    assert [(p.path, p.code, p.message) for p in problems] == [
        (
            f"$.nodes[{guarded}].catch.nodes[0].id",
            "duplicate_id",
            "duplicate node id 'start' (first used at $.nodes[0])",
        )
    ]


def test_an_edge_may_not_cross_into_a_body() -> None:
    document = copy.deepcopy(EVERYTHING)
    document["edges"].append({"from": "start", "to": "price"})
    problems = validate_document(document, REGISTRY)
    index = len(document["edges"]) - 1
    assert [(p.path, p.code) for p in problems] == [(f"$.edges[{index}].to", "dangling_edge")]


def test_a_node_joined_by_a_normal_edge_is_reachable_even_if_another_edge_is_an_unroutable_error_port() -> None:
    document = {
        "schema": "rpa.flow/1",
        "name": "t",
        "nodes": [
            {"id": "a", "type": "core.noop"},
            {"id": "b", "type": "core.noop"},
            {"id": "c", "type": "core.noop"},
        ],
        "edges": [{"from": "a", "port": "error", "to": "c"}, {"from": "b", "to": "c"}],
    }
    assert validate_document(document, REGISTRY) == []


# -- the problem objects ------------------------------------------------------------------------


def test_problem_json_form_leaves_out_unknown_line_and_column() -> None:
    assert Problem("$.name", "m", "schema").to_dict() == {"path": "$.name", "message": "m", "code": "schema"}
    assert Problem("$", "m", "syntax", 3, 4).to_dict() == {
        "path": "$",
        "message": "m",
        "code": "syntax",
        "line": 3,
        "column": 4,
    }


def test_json_path_quotes_keys_that_are_not_identifiers() -> None:
    assert json_path(("nodes", 2, "params", "X-Id", 0)) == '$.nodes[2].params["X-Id"][0]'
    assert json_path(()) == "$"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "not an array"),
        ("flow", "not a string"),
        (None, "not null"),
        (3, "not a number"),
        (True, "not a boolean"),
    ],
)
def test_a_document_that_is_not_an_object_is_one_problem_at_the_root(document: Any, message: str) -> None:
    (problem,) = validate_document(document, REGISTRY)
    assert (problem.path, problem.code) == ("$", "schema")
    assert message in problem.message


def test_an_empty_document_is_a_syntax_error_at_line_one() -> None:
    with pytest.raises(FlowLoadError) as raised:
        parse_document("  \n")
    assert (raised.value.line, raised.value.column) == (1, 1)


def test_the_default_catalogue_is_used_when_none_is_given() -> None:
    document = {"schema": "rpa.flow/1", "name": "t", "nodes": [{"id": "a", "type": "core.nop"}]}
    (problem,) = validate_document(document)
    assert problem.code == "unknown_step"


# -- robustness: the validator never raises -----------------------------------------------------

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["{{", "{{ x", "{% if %}", "core.noop", "control.foreach", "error", "a", "out"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["id", "type", "params", "body", "nodes", "edges", "from", "to", "port", "x"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)


def _all_paths(value: Any, parts: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [parts]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_all_paths(item, (*parts, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_all_paths(item, (*parts, index)))
    return found


ALL_PATHS = _all_paths(EVERYTHING)[1:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(ALL_PATHS), junk=JUNK)
def test_any_value_anywhere_gives_problems_never_an_exception(where: tuple[Any, ...], junk: Any) -> None:
    document = copy.deepcopy(EVERYTHING)
    _at(document, where[:-1])[where[-1]] = junk
    problems = validate_document(document, REGISTRY)
    for problem in problems:
        assert problem.path.startswith("$")
        assert problem.code in CODES
        assert problem.message


# -- known bugs outside the corpus --------------------------------------------------------------


def test_switch_with_cases_given_as_an_expression_accepts_case_ports() -> None:
    document = {
        "schema": "rpa.flow/1",
        "name": "t",
        "inputs": {"cases": {"type": "array", "default": ["a", "b"]}},
        "nodes": [
            {
                "id": "route",
                "type": "control.switch",
                "params": {"value": "a", "cases": "{{ inputs.cases }}"},
            },
            {"id": "took_a", "type": "core.noop"},
        ],
        "edges": [{"from": "route", "port": "a", "to": "took_a"}],
    }
    assert validate_document(document, REGISTRY) == []


def test_a_yaml_file_in_flow_style_is_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "inline.yaml"
    path.write_text("{schema: rpa.flow/1, name: inline, nodes: [{id: a, type: core.noop}]}\n", encoding="utf-8")
    assert load_flow(path, registry=REGISTRY).name == "inline"


def test_retry_on_written_unquoted_in_yaml_is_the_on_field() -> None:
    document = parse_document(
        "schema: rpa.flow/1\nname: t\nnodes:\n  - id: a\n    type: core.noop\n"
        "    retry:\n      max_attempts: 2\n      on: [timeout]\n"
    )
    assert validate_document(document, REGISTRY) == []

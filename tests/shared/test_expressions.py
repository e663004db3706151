"""Behaviour of flow templates: rendering, errors, the sandbox and the filters."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shared.expressions as expressions
from shared.expressions import (
    ExpressionError,
    check_syntax,
    compile_value,
    evaluate,
    is_template,
    render,
)


class LazyMapping(Mapping[str, Any]):
    """A read-only mapping that records which keys were read, like the engine's scope views."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.reads.append(key)
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class ExplodingScope(Mapping[str, Any]):
    """A scope that fails if anything reads it."""

    def __getitem__(self, key: str) -> Any:
        raise AssertionError(f"scope read: {key}")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("scope iterated")

    def __len__(self) -> int:
        raise AssertionError("scope measured")


SCOPE: dict[str, Any] = {
    "inputs": {
        "n": 5,
        "name": "Ada",
        "rows": [{"id": 1, "tag": "a"}, {"id": 2, "tag": "b"}],
        "items": "data",
    },
    "vars": {"flag": True, "empty": None},
    "steps": {"fetch": {"output": {"status": 200, "body": {"users": ["ann", "bob"]}}}},
}


def error_of(value: Any, scope: Mapping[str, Any] = SCOPE) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        render(value, scope)
    return caught.value


def test_public_names_are_pinned() -> None:
    assert set(expressions.__all__) == {
        "ErrorKind",
        "ExpressionError",
        "Renderer",
        "SecretMasker",
        "SecretsNamespace",
        "UnknownSecretError",
        "check_syntax",
        "compile_value",
        "evaluate",
        "find_secret_refs",
        "find_secret_uses",
        "flatten_credentials",
        "is_template",
        "render",
    }


# --- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ steps.fetch.output.body.users }}", ["ann", "bob"]),
        ("{{ steps.fetch.output.body }}", {"users": ["ann", "bob"]}),
        ("{{ inputs.n }}", 5),
        ("{{ inputs.n > 3 }}", True),
        ("{{ vars.empty }}", None),
        ("{{ inputs.n / 2 }}", 2.5),
        ("  {{ inputs.n * 2 }}\n", 10),
        ("{{- inputs.n -}}", 5),
        ("{{ {'a': {'b': [1, 2]}} }}", {"a": {"b": [1, 2]}}),
        ("{{ 'a }}b' }}", "a }}b"),
        ("{{ inputs.rows | map(attribute='id') | list }}", [1, 2]),
    ],
)
def test_a_single_expression_yields_its_native_value(template: str, expected: Any) -> None:
    result = render(template, SCOPE)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{ inputs.name }}", "Hello Ada"),
        ("{{ inputs.n }}{{ inputs.n }}", "55"),
        ("{{ inputs.n }} and {{ inputs.name }}", "5 and Ada"),
        ("{{ inputs.n }}}}", "5}}"),
        ("{% for row in inputs.rows %}{{ row.tag }};{% endfor %}", "a;b;"),
        ("{% set total = inputs.n + 1 %}total={{ total }}", "total=6"),
        ("{% if vars.flag %}yes{% else %}no{% endif %}", "yes"),
        ("line {{ inputs.n }}\n", "line 5\n"),
        (
            "{% set ns = namespace(sum=0) %}{% for r in inputs.rows %}{% set ns.sum = ns.sum + r.id %}"
            "{% endfor %}{{ ns.sum }}",
            "3",
        ),
    ],
)
def test_other_templates_render_to_text(template: str, expected: str) -> None:
    assert render(template, SCOPE) == expected


def test_values_without_templates_are_returned_unchanged_without_reading_the_scope() -> None:
    value = {"url": "https://example.org/{id}", "list": [1, None, "x"], "n": 3.5, "flag": False}
    renderer = compile_value(value)
    assert renderer(ExplodingScope()) is value
    assert compile_value("plain text")(ExplodingScope()) == "plain text"
    assert compile_value(42)(ExplodingScope()) == 42


def test_a_value_is_walked_but_its_keys_are_not_templates() -> None:
    value = {
        "{{ inputs.n }}": "{{ inputs.n }}",
        "nested": [{"name": "Hi {{ inputs.name }}"}, 7],
        "fixed": [1],
    }
    result = render(value, SCOPE)
    assert result == {"{{ inputs.n }}": 5, "nested": [{"name": "Hi Ada"}, 7], "fixed": [1]}
    assert list(result) == ["{{ inputs.n }}", "nested", "fixed"]
    assert result["fixed"] is value["fixed"]
    assert value["nested"] == [{"name": "Hi {{ inputs.name }}"}, 7]


def test_a_compiled_value_renders_again_with_each_scope() -> None:
    renderer = compile_value({"greeting": "Hi {{ inputs.name }}", "n": "{{ inputs.n }}"})
    assert renderer({"inputs": {"name": "A", "n": 1}}) == {"greeting": "Hi A", "n": 1}
    assert renderer({"inputs": {"name": "B", "n": 2}}) == {"greeting": "Hi B", "n": 2}


def test_templates_are_compiled_once_per_text() -> None:
    assert compile_value("{{ inputs.n + 41 }}") is compile_value("{{ inputs.n + 41 }}")


def test_scope_mappings_may_be_lazy_views() -> None:
    fetch = LazyMapping({"output": {"status": 200}})
    other = LazyMapping({"output": "never read"})
    steps = LazyMapping({"fetch": fetch, "other": other})
    scope = {"steps": steps}
    assert render("{{ steps.fetch.output.status }}", scope) == 200
    assert render("status {{ steps['fetch']['output'].status }}", scope) == "status 200"
    assert other.reads == []
    assert set(steps.reads) == {"fetch"}


def test_attribute_access_prefers_data_over_mapping_methods() -> None:
    assert render("{{ inputs.items }}", SCOPE) == "data"
    assert render("{{ vars.keys() | list }}", SCOPE) == ["flag", "empty"]


def test_evaluate_takes_a_bare_expression() -> None:
    assert evaluate("inputs.n > 3 and vars.flag", SCOPE) is True
    assert evaluate("steps.fetch.output.body.users[1]", SCOPE) == "bob"
    with pytest.raises(ExpressionError) as caught:
        evaluate("inputs.n >", SCOPE)
    assert caught.value.kind == "syntax"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", False),
        ("{ not a template }", False),
        ("{{ x }}", True),
        ("{% if x %}y{% endif %}", True),
        ({"a": [1, {"b": "x {{ y }}"}]}, True),
        ({"{{ key }}": "value"}, False),
        ([1, 2.5, None, True], False),
    ],
)
def test_is_template_finds_template_syntax_anywhere(value: Any, expected: bool) -> None:
    assert is_template(value) is expected


# --- syntax ----------------------------------------------------------------------------------


def test_syntax_errors_are_raised_at_compile_time() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_value({"a": ["ok", "{{ inputs.n + }}"]})
    assert caught.value.kind == "syntax"
    assert caught.value.source == "{{ inputs.n + }}"
    assert "(line 1)" in caught.value.message


def test_check_syntax_reports_every_problem_with_its_path() -> None:
    value = {
        "headers": {"X-Id": "{{ id } }}", "ok": "{{ id }}}"},
        "rows": ["fine", "{% for x in y %}{{ x }}", "{{ x | no_such_filter }}"],
        "n": 3,
    }
    problems = dict(check_syntax(value))
    assert set(problems) == {("headers", "X-Id"), ("rows", 1), ("rows", 2)}
    assert problems[("headers", "X-Id")] == "unexpected '}' (line 1)"
    assert "endfor" in problems[("rows", 1)]
    assert "no_such_filter" in problems[("rows", 2)]
    assert check_syntax({"a": "{{ a }}", "b": ["{% if a %}b{% endif %}"]}) == []


@given(st.text(alphabet="{}%#()[]'\"|.*+-/~=<>!, abx19_\n", max_size=40))
def test_check_syntax_never_raises(text: str) -> None:
    problems = check_syntax({"value": text})
    assert all(path == ("value",) and message for path, message in problems)


@given(st.text(alphabet="{}%#()[]'\"|.*+-/~=<>!,: abx19_\n", max_size=30))
def test_nothing_but_expression_errors_escape_rendering(text: str) -> None:
    failure: ExpressionError | None = None
    try:
        render(text, {"a": 1, "b": [1, 2], "x": "t"})
    except ExpressionError as exc:
        failure = exc
    if failure is not None:
        assert failure.kind in {"syntax", "undefined", "unsafe", "type", "runtime"}
        assert failure.message


# --- undefined names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{ steps.nope.output }}", "'nope'"),
        ("{{ nope }}", "'nope'"),
        ("x {{ nope }}", "'nope'"),
        ("{{ inputs.missing }}", "'missing'"),
        ("{{ [1, nope] }}", "'nope'"),
        ("x {{ {'a': nope} }}", "'nope'"),
        ("{{ inputs.rows[7] }}", "7"),
        ("{{ nope | to_int }}", "'nope'"),
        ("{{ inputs.name.first }}", "'first'"),
    ],
)
def test_undefined_names_are_errors_that_say_what_is_missing(template: str, named: str) -> None:
    error = error_of(template)
    assert error.kind == "undefined"
    assert named in error.message
    assert error.source == template


def test_a_missing_key_error_lists_what_exists() -> None:
    assert error_of("{{ steps.fetc.output }}").message == "'fetc' is undefined (known: fetch)"


def test_defined_tests_and_defaults_still_work() -> None:
    assert render("{{ steps.nope is defined }}", SCOPE) is False
    assert render("{{ nope | default('fallback') }}", SCOPE) == "fallback"


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "kind"),
    [
        ("{{ 1 / 0 }}", "runtime"),
        ("{{ inputs.n + 'a' }}", "type"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "runtime"),
        ("{% include 'other' %}", "runtime"),
        ("{{ inputs.name | to_int }}", "type"),
    ],
)
def test_failures_while_rendering_become_expression_errors(template: str, kind: str) -> None:
    error = error_of(template)
    assert error.kind == kind
    assert str(error) == error.message
    assert error.__cause__ is None


def test_expression_errors_survive_pickling() -> None:
    error = error_of("{{ nope }}")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.kind, copy.message, copy.source) == ("undefined", "'nope' is undefined", "{{ nope }}")


def test_cancellation_is_not_translated() -> None:
    class Cancelling(Mapping[str, Any]):
        def __getitem__(self, key: str) -> Any:
            raise asyncio.CancelledError

        def __iter__(self) -> Iterator[str]:
            return iter(["x"])

        def __len__(self) -> int:
            return 1

    with pytest.raises(asyncio.CancelledError):
        render("{{ steps.x }}", {"steps": Cancelling()})


# --- sandbox ---------------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ ().__class__.__bases__[0].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__ }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ request }}",
    "{{ config }}",
    "{{ inputs.__class__ }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ ''.format.__globals__ }}",
    "{{ [].pop(0) }}",
    "{{ {}.update({'a': 1}) }}",
    "{{ inputs.rows.append(1) }}",
    "{{ 'a' * 10000000 }}",
    "{{ 10000000 * 'a' }}",
    "{{ [0] * 2000000 }}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ 10 ** 5000 }}",
    "{{ (10 ** 3000) * (10 ** 3000) }}",
    "{{ range(10**9) | list }}",
    "{{ '{0.__class__}'.format(1) }}",
    "{{ '{0.__class__.__base__}'.format(inputs) }}",
    "{{ '{0[__class__]}'.format(1) }}",
    "{{ '{x.__init__.__globals__}'.format_map({'x': namespace}) }}",
    "{{ range.__globals__ }}",
    "{{ now.__globals__ }}",
    "{{ inputs | attr('__class__') }}",
]


@pytest.mark.parametrize("template", ESCAPES)
@pytest.mark.parametrize("wrap", ["{}", "text before {} and after"])
def test_sandbox_escapes_fail_without_leaking(template: str, wrap: str) -> None:
    error = error_of(wrap.format(template))
    assert error.kind in {"unsafe", "undefined"}
    assert "<class" not in error.message
    assert "module" not in error.message


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ inputs.__class__ }}", "access to attribute '__class__' is not allowed"),
        ("{{ [].pop(0) }}", "access to attribute 'pop' is not allowed"),
        ("{{ 'a' * 10000000 }}", "repeating this str would produce 10,000,000 items; the limit is 1,000,000"),
        ("{{ range(10**9) | list }}", "range() is limited to 100,000 numbers"),
    ],
)
def test_sandbox_refusals_say_why(template: str, message: str) -> None:
    error = error_of(template)
    assert error.kind == "unsafe"
    assert error.message == message


@pytest.mark.parametrize("name", ["lipsum", "cycler", "joiner"])
def test_helper_globals_are_removed(name: str) -> None:
    assert error_of(f"{{{{ {name} }}}}").kind == "undefined"


def test_power_is_left_associative_so_a_tower_stays_small() -> None:
    # Jinja reads 9 ** 9 ** 9 as (9 ** 9) ** 9, a 78-digit number; only 9 ** (9 ** 9) explodes.
    assert render("{{ 9 ** 9 ** 9 }}", SCOPE) == (9**9) ** 9


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ [0] * 3 }}", [0, 0, 0]),
        ("{{ 2 ** 100 }}", 2**100),
        ("{{ 2 ** -1 }}", 0.5),
        ("{{ range(3) | list }}", [0, 1, 2]),
        ("{{ range(100000) | list | length }}", 100000),
        ("{{ '{0} + {1}'.format(1, 2) }}", "1 + 2"),
        ("{{ dict(a=1) }}", {"a": 1}),
    ],
)
def test_reasonable_operations_are_allowed(template: str, expected: Any) -> None:
    assert render(template, SCOPE) == expected


def test_rendering_never_mutates_scope_data() -> None:
    scope = {"inputs": {"rows": [1, 2]}}
    with pytest.raises(ExpressionError):
        render("{{ inputs.rows.append(3) }}", scope)
    assert scope == {"inputs": {"rows": [1, 2]}}


# --- filters ---------------------------------------------------------------------------------

DATA = {"users": [{"name": "ann", "age": 31}, {"name": "bob", "age": 17}], "text": "id-42 id-7"}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ data | jmespath('users[?age > `18`].name') }}", ["ann"]),
        ("{{ data | jsonpath('$.users[*].name') }}", ["ann", "bob"]),
        ("{{ data | jsonpath('$.users[?(@.age < 18)].name') }}", ["bob"]),
        ("{{ data | jsonpath_first('$.users[*].age') }}", 31),
        ("{{ data | jsonpath_first('$.nobody') }}", None),
        ("{{ 'abc123' | regex_match('[a-z]+\\\\d+') }}", True),
        ("{{ 'abc123!' | regex_match('[a-z]+\\\\d+') }}", False),
        ("{{ data.text | regex_search('id-(\\\\d+)') }}", "id-42"),
        ("{{ data.text | regex_search('id-(\\\\d+)', 1) }}", "42"),
        ("{{ data.text | regex_search('(?P<n>\\\\d+)', 'n') }}", "42"),
        ("{{ data.text | regex_search('zzz') }}", None),
        ("{{ data.text | regex_findall('\\\\d+') }}", ["42", "7"]),
        ("{{ data.text | regex_replace('id-(\\\\d+)', '#\\\\1') }}", "#42 #7"),
        ("{{ data.text | regex_replace('\\\\d', 'X', 1) }}", "id-X2 id-7"),
        ("{{ 'a, b,c' | regex_split(',\\\\s*') }}", ["a", "b", "c"]),
        ("{{ ' 42 ' | to_int }}", 42),
        ("{{ '3.9' | to_int }}", 3),
        ("{{ 7.8 | to_int }}", 7),
        ("{{ '2.5' | to_float }}", 2.5),
        ("{{ 2 | to_float }}", 2.0),
        ("{{ 'Yes' | to_bool }}", True),
        ("{{ 'OFF' | to_bool }}", False),
        ("{{ '1' | to_bool }}", True),
        ("{{ 0 | to_bool }}", False),
        ("{{ none | to_str }}", ""),
        ("{{ true | to_str }}", "true"),
        ("{{ 12 | to_str }}", "12"),
        ("{{ data.users[0] | to_str }}", '{"name": "ann", "age": 31}'),
        ("{{ {'é': [1, none]} | to_json }}", '{"é": [1, null]}'),
        ("{{ '{\"a\": [1, 2]}' | from_json }}", {"a": [1, 2]}),
        ("{{ '2024-01-05' | to_date }}", "2024-01-05"),
        ("{{ '2024-01-05T10:30:00+02:00' | to_date }}", "2024-01-05"),
        ("{{ '05/01/2024' | to_date('%d/%m/%Y') }}", "2024-01-05"),
        ("{{ [3, 1, 2] | sort | first }}", 1),
    ],
)
def test_filters(template: str, expected: Any) -> None:
    assert render(template, {"data": DATA}) == expected


def test_filters_accept_lazy_mappings() -> None:
    data = LazyMapping({"a": LazyMapping({"b": 1})})
    assert render("{{ data | jmespath('a.b') }}", {"data": data}) == 1
    assert render("{{ data | jsonpath('$.a.b') }}", {"data": data}) == [1]
    assert render("{{ data | to_json }}", {"data": data}) == '{"a": {"b": 1}}'


@pytest.mark.parametrize(
    ("template", "kind", "words"),
    [
        ("{{ 'abc' | to_int }}", "type", ["'abc'", "int"]),
        ("{{ [1] | to_int }}", "type", ["[1]", "int"]),
        ("{{ 'x' | to_float }}", "type", ["'x'", "float"]),
        ("{{ 'nan' | to_float }}", "type", ["'nan'", "float"]),
        ("{{ 'maybe' | to_bool }}", "type", ["'maybe'", "bool"]),
        ("{{ 2 | to_bool }}", "type", ["2", "bool"]),
        ("{{ '{oops' | from_json }}", "type", ["'{oops'", "JSON"]),
        ("{{ 'yesterday' | to_date }}", "type", ["'yesterday'", "date"]),
        ("{{ '2024-13-01' | to_date }}", "type", ["'2024-13-01'", "date"]),
        ("{{ '5/1/24' | to_date('%d/%m/%Y') }}", "type", ["'5/1/24'", "%d/%m/%Y"]),
        ("{{ 12 | regex_match('1') }}", "type", ["regex_match", "int"]),
        ("{{ 'x' | regex_match('(') }}", "syntax", ["'('"]),
        ("{{ 'x' | regex_search('x', 3) }}", "syntax", ["group 3"]),
        ("{{ 'x' | regex_replace('x', '\\\\9') }}", "syntax", ["replacement"]),
        ("{{ data | jmespath('users[') }}", "syntax", ["JMESPath", "'users['"]),
        ("{{ data | jmespath('nope(users)') }}", "syntax", ["JMESPath"]),
        ("{{ data | jmespath('sum(users)') }}", "type", ["JMESPath"]),
        ("{{ data | jsonpath('$.[') }}", "syntax", ["JSONPath", "'$.['"]),
        ("{{ data | jsonpath_first('$$') }}", "syntax", ["JSONPath"]),
    ],
)
def test_filter_failures_are_typed_and_explained(template: str, kind: str, words: list[str]) -> None:
    error = error_of(template, {"data": DATA})
    assert error.kind == kind
    for word in words:
        assert word in error.message


def test_to_json_refuses_values_without_a_json_form() -> None:
    error = error_of("{{ data | to_json }}", {"data": {"s": {1, 2}}})
    assert error.kind == "type"
    assert "JSON" in error.message


def test_now_is_the_current_utc_time_in_iso_format() -> None:
    moment = datetime.fromisoformat(render("{{ now() }}", {}))
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(seconds=5)


def test_the_template_cache_holds_the_templates_of_a_5000_node_flow() -> None:
    """An LRU cache smaller than one pass misses on every entry, and the studio validates after each
    edit: a 5,000-node flow holds about 4,100 templates (compiling 4,500 here to show it takes 20 s)."""
    from shared.expressions._render import _compile_bare, compile_template

    for cached in (compile_template, _compile_bare):
        maxsize = cached.cache_info().maxsize
        assert maxsize is not None
        assert maxsize >= 2 * 4_100

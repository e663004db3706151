"""`data.*`: variables, templates, queries, regex, conversions, JSON and CSV.

The conversions and queries are the same functions the expression filters use, so
`{{ x | to_int }}` and a `data.convert` node agree. Bad data is a `BusinessError` (kind
`data`): retrying would not change it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BusinessError
from shared.expressions import ExpressionError
from shared.expressions import _filters as filters
from shared.steps._api import Output, step


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


@contextmanager
def _bad_data() -> Iterator[None]:
    """Turn a failed conversion or query into a business error with the same sentence."""
    try:
        yield
    except ExpressionError as err:
        raise BusinessError(err.message, kind="data") from None


class SetVariableParams(_Params):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="The variable (read as vars.<name>).")
    value: Any = Field(default=None, description="Its new value.")


class SetVariablesParams(_Params):
    values: dict[str, Any] = Field(description="Variable names to new values.")


class TemplateParams(_Params):
    template: str = Field(description="Text with {{ … }} placeholders; the output is the rendered text.")


class QueryParams(_Params):
    data: Any = Field(description="The JSON-like value to query.")
    query: str = Field(min_length=1, description="A JMESPath or JSONPath expression.")
    language: Literal["jmespath", "jsonpath"] = "jmespath"
    first: bool = Field(default=False, description="JSONPath only: return the first match instead of a list.")


class RegexParams(_Params):
    text: str
    pattern: str = Field(min_length=1)
    mode: Literal["match", "search", "findall", "replace", "split"] = "search"
    replacement: str = ""
    group: int | str = 0


class ConvertParams(_Params):
    value: Any
    to: Literal["string", "integer", "number", "boolean", "json", "from_json", "date", "list"]
    format: str | None = Field(default=None, description="strptime format for 'date'.")


class ParseJsonParams(_Params):
    text: str


class ParseCsvParams(_Params):
    text: str
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: bool = Field(default=True, description="First row names the columns (rows become objects).")


class FormatCsvParams(_Params):
    rows: list[Any] = Field(description="Objects (columns from their keys) or lists.")
    delimiter: str = Field(default=",", min_length=1, max_length=1)


@step("data.set_variable", params=SetVariableParams, output="The value set.", effects=False)
def set_variable(params: SetVariableParams) -> Output:
    """Set one flow variable."""
    return Output(params.value, {params.name: params.value})


@step("data.set_variables", params=SetVariablesParams, output="The values set.", effects=False)
def set_variables(params: SetVariablesParams) -> Output:
    """Set several flow variables at once."""
    bad = [name for name in params.values if not name.isidentifier()]
    if bad:
        raise BusinessError(f"not a valid variable name: {', '.join(bad)}", kind="validation")
    return Output(params.values, params.values)


@step("data.template", params=TemplateParams, output="The rendered text.", effects=False)
def template(params: TemplateParams) -> str:
    """Compose text from a template."""
    return params.template


@step("data.query", params=QueryParams, output="What the query selects.", effects=False)
def query(params: QueryParams) -> Any:
    """Select data with JMESPath or JSONPath."""
    with _bad_data():
        if params.language == "jmespath":
            return filters.jmespath_filter(params.data, params.query)
        if params.first:
            return filters.jsonpath_first(params.data, params.query)
        return filters.jsonpath_filter(params.data, params.query)


@step("data.regex", params=RegexParams, output="bool (match), text or null (search), list, or text.", effects=False)
def regex(params: RegexParams) -> Any:
    """Match, search, find all, replace or split with a regular expression."""
    with _bad_data():
        if params.mode == "match":
            return filters.regex_match(params.text, params.pattern)
        if params.mode == "search":
            return filters.regex_search(params.text, params.pattern, params.group)
        if params.mode == "findall":
            return filters.regex_findall(params.text, params.pattern)
        if params.mode == "replace":
            return filters.regex_replace(params.text, params.pattern, params.replacement)
        return filters.regex_split(params.text, params.pattern)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": filters.to_str,
    "integer": filters.to_int,
    "number": filters.to_float,
    "boolean": filters.to_bool,
    "json": filters.to_json,
    "from_json": filters.from_json,
}


@step("data.convert", params=ConvertParams, output="The converted value.", effects=False)
def convert(params: ConvertParams) -> Any:
    """Convert a value to another type."""
    with _bad_data():
        if params.to == "date":
            return filters.to_date(params.value, params.format)
        if params.to == "list":
            if isinstance(params.value, list):
                return params.value
            if isinstance(params.value, dict):
                return [{"key": k, "value": v} for k, v in params.value.items()]
            return [] if params.value is None else [params.value]
        return _CONVERTERS[params.to](params.value)


@step("data.parse_json", params=ParseJsonParams, output="The parsed value.", effects=False)
def parse_json(params: ParseJsonParams) -> Any:
    """Parse JSON text."""
    try:
        return json.loads(params.text)
    except json.JSONDecodeError as err:
        raise BusinessError(f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}", kind="data") from None


@step("data.parse_csv", params=ParseCsvParams, output="Rows: objects when header is true, else lists.", effects=False)
def parse_csv(params: ParseCsvParams) -> list[Any]:
    """Parse CSV text."""
    try:
        if params.header:
            return list(csv.DictReader(io.StringIO(params.text), delimiter=params.delimiter))
        return list(csv.reader(io.StringIO(params.text), delimiter=params.delimiter))
    except csv.Error as err:
        raise BusinessError(f"invalid CSV: {err}", kind="data") from None


@step("data.format_csv", params=FormatCsvParams, output="CSV text.", effects=False)
def format_csv(params: FormatCsvParams) -> str:
    """Write rows as CSV text."""
    out = io.StringIO()
    if params.rows and all(isinstance(r, dict) for r in params.rows):
        columns = list(dict.fromkeys(k for row in params.rows for k in row))
        writer = csv.DictWriter(out, fieldnames=columns, delimiter=params.delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(params.rows)
    else:
        plain = csv.writer(out, delimiter=params.delimiter, lineterminator="\n")
        for row in params.rows:
            plain.writerow(row if isinstance(row, list) else [row])
    return out.getvalue()


DATA_STEPS = (set_variable, set_variables, template, query, regex, convert, parse_json, parse_csv, format_csv)

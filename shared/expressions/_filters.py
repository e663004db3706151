"""Filters and global functions that templates get on top of Jinja's own.

Queries (``jmespath``, ``jsonpath``), regular expressions and type conversions, each usable as
``{{ value | name(args) }}``. They fail with `ExpressionError`: ``kind="syntax"`` for a bad
query or pattern, ``kind="type"`` for a value that cannot be converted or has the wrong type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import jmespath
import jmespath.exceptions
from jinja2 import Undefined

from ._errors import ExpressionError

__all__ = ["FILTERS", "GLOBALS"]

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _show(value: Any) -> str:
    """A short rendering of a value for an error message.

    A value is quoted whole or not at all: a cut or escaped rendering of a secret would slip
    past the masker, which only recognises whole values.
    """
    if isinstance(value, str):
        if len(value) <= 40 and value.isprintable() and "'" not in value and "\\" not in value:
            return f"'{value}'"
        return f"a text of {len(value)} characters"
    text = repr(value)
    if len(text) <= 60 and "\\" not in text:
        return text
    size = f" of {len(value)} items" if isinstance(value, list | dict | tuple) else ""
    return f"a {type(value).__name__}{size}"


def _defined(value: Any) -> Any:
    # Filters receive undefined values as objects; without this check a missing name would
    # surface as a confusing conversion error instead of "'x' is undefined".
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def _cannot_convert(value: Any, target: str, reason: str = "") -> ExpressionError:
    suffix = f" ({reason})" if reason else ""
    return ExpressionError("type", f"cannot convert {_show(value)} to {target}{suffix}")


def _text(value: Any, filter_name: str) -> str:
    _defined(value)
    if not isinstance(value, str):
        raise ExpressionError(
            "type", f"{filter_name} expects text, not {type(value).__name__} {_show(value)}; use to_str first"
        )
    return value


# --- queries -------------------------------------------------------------------------------


def jmespath_filter(value: Any, expression: str) -> Any:
    """Query a value with JMESPath (https://jmespath.org)."""
    _defined(value)
    try:
        return jmespath.search(expression, value)
    except (jmespath.exceptions.ParseError, jmespath.exceptions.UnknownFunctionError) as exc:
        detail = str(exc).split("\n", 1)[0].removesuffix(", for expression:")
        raise ExpressionError("syntax", f"invalid JMESPath expression {expression!r}: {detail}") from None
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError("type", f"JMESPath expression {expression!r} failed: {exc}") from None


@lru_cache(maxsize=256)
def _jsonpath(expression: str) -> Any:
    # Imported here: building the JSONPath parser is slow and most flows never use it.
    from jsonpath_ng.ext.parser import parse

    try:
        return parse(expression)
    except Exception as exc:  # the parser raises several unrelated classes
        raise ExpressionError("syntax", f"invalid JSONPath expression {expression!r}: {exc}") from None


def jsonpath_filter(value: Any, expression: str) -> list[Any]:
    """Every value matched by a JSONPath expression, in document order."""
    _defined(value)
    return [match.value for match in _jsonpath(expression).find(value)]


def jsonpath_first(value: Any, expression: str) -> Any:
    """The first value matched by a JSONPath expression, or ``None``."""
    matches = jsonpath_filter(value, expression)
    return matches[0] if matches else None


# --- regular expressions ---------------------------------------------------------------------


def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ExpressionError("syntax", f"invalid regular expression {pattern!r}: {exc}") from None


def regex_match(value: Any, pattern: str) -> bool:
    """Whether the whole text matches the pattern."""
    return _regex(pattern).fullmatch(_text(value, "regex_match")) is not None


def regex_search(value: Any, pattern: str, group: int | str = 0) -> str | None:
    """The first match of the pattern in the text (or one of its groups), or ``None``."""
    match = _regex(pattern).search(_text(value, "regex_search"))
    if match is None:
        return None
    try:
        found: str | None = match.group(group)
    except IndexError:
        raise ExpressionError("syntax", f"regular expression {pattern!r} has no group {group!r}") from None
    return found


def regex_findall(value: Any, pattern: str) -> list[Any]:
    """Every non-overlapping match (as ``re.findall``: groups become tuples)."""
    return _regex(pattern).findall(_text(value, "regex_findall"))


def regex_replace(value: Any, pattern: str, replacement: str, count: int = 0) -> str:
    """Replace matches of the pattern; ``\\1`` and ``\\g<name>`` refer to groups."""
    compiled = _regex(pattern)
    text = _text(value, "regex_replace")
    try:
        return compiled.sub(replacement, text, count=count)
    except re.error as exc:
        raise ExpressionError("syntax", f"invalid replacement {replacement!r}: {exc}") from None


def regex_split(value: Any, pattern: str, maxsplit: int = 0) -> list[str]:
    """Split the text wherever the pattern matches."""
    return _regex(pattern).split(_text(value, "regex_split"), maxsplit=maxsplit)


# --- conversions -----------------------------------------------------------------------------


def to_int(value: Any) -> int:
    """Convert a number or numeric text to an integer, truncating decimals like ``int()``."""
    _defined(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _cannot_convert(value, "int", "not a finite number")
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
        try:
            number = float(value)
        except ValueError:
            raise _cannot_convert(value, "int") from None
        return to_int(number)
    raise _cannot_convert(value, "int")


def to_float(value: Any) -> float:
    """Convert a number or numeric text to a finite float."""
    _defined(value)
    if isinstance(value, int | float | str):
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise _cannot_convert(value, "float") from None
        if not math.isfinite(number):
            raise _cannot_convert(value, "float", "not a finite number")
        return number
    raise _cannot_convert(value, "float")


def to_bool(value: Any) -> bool:
    """Convert ``true/false/yes/no/on/off/1/0`` (any case), booleans, and the numbers 1 and 0."""
    _defined(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _cannot_convert(value, "bool", "expected true/false, yes/no, on/off or 1/0")


def to_str(value: Any) -> str:
    """Text for a value: JSON for lists and objects, ``true``/``false``, and ``""`` for none."""
    _defined(value)
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return to_json(value)
    return str(value)


def _json_default(value: Any) -> Any:
    _defined(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def to_json(value: Any, indent: int | None = None, sort_keys: bool = False) -> str:
    """Serialise a value as JSON text (non-ASCII characters kept as they are)."""
    _defined(value)
    try:
        return json.dumps(
            value,
            ensure_ascii=False,
            allow_nan=False,
            indent=indent,
            sort_keys=sort_keys,
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise _cannot_convert(value, "JSON", str(exc)) from None


def from_json(value: Any) -> Any:
    """Parse JSON text into a value."""
    text = _text(value, "from_json")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ExpressionError("type", f"cannot parse {_show(text)} as JSON: {exc}") from None


def to_date(value: Any, format: str | None = None) -> str:
    """Normalise a date to ISO ``YYYY-MM-DD``.

    Without ``format`` the value must be an ISO date or date-time; with it, the value is read
    with ``datetime.strptime`` (e.g. ``"%d/%m/%Y"``).
    """
    _defined(value)
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise _cannot_convert(value, "date")
    text = value.strip()
    try:
        if format is not None:
            return datetime.strptime(text, format).date().isoformat()
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            return datetime.fromisoformat(text).date().isoformat()
    except ValueError as exc:
        expected = f"format {format!r}" if format is not None else "an ISO date such as 2024-01-31"
        raise _cannot_convert(value, "date", f"expected {expected}; {exc}") from None


def now() -> str:
    """The current UTC time as an ISO-8601 string, e.g. ``2024-01-31T09:30:00.123456+00:00``."""
    return datetime.now(UTC).isoformat()


FILTERS: Mapping[str, Callable[..., Any]] = {
    "jmespath": jmespath_filter,
    "jsonpath": jsonpath_filter,
    "jsonpath_first": jsonpath_first,
    "regex_match": regex_match,
    "regex_search": regex_search,
    "regex_findall": regex_findall,
    "regex_replace": regex_replace,
    "regex_split": regex_split,
    "to_int": to_int,
    "to_float": to_float,
    "to_bool": to_bool,
    "to_str": to_str,
    "to_json": to_json,
    "from_json": from_json,
    "to_date": to_date,
}

GLOBALS: Mapping[str, Callable[..., Any]] = {"now": now}

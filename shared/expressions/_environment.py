"""The sandboxed Jinja2 environment that every template runs in, and its error boundary.

What the sandbox guarantees, on top of Jinja's `ImmutableSandboxedEnvironment` (no private or
internal attributes, no mutation of lists, dicts and sets, sandboxed ``str.format``):

* names that do not exist are errors, never silently empty (strict undefined);
* attribute access on a mapping reads the mapping's data first, so ``inputs.items`` is the
  input called ``items`` and scope objects may be any `collections.abc.Mapping`;
* no helper globals beyond ``range``, ``dict``, ``namespace`` and ``now``;
* ``*`` and ``**`` refuse results that would exhaust memory, and ``range()`` is bounded.

`translate_errors` is the one place where anything raised by Jinja or by the code it calls
becomes an `ExpressionError`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from jinja2 import DictLoader, StrictUndefined, TemplateNotFound, Undefined
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from ._errors import ErrorKind, ExpressionError
from ._filters import FILTERS, GLOBALS
from ._secrets import SecretsNamespace

__all__ = [
    "ENVIRONMENT",
    "MAX_INT_BITS",
    "MAX_RANGE",
    "MAX_REPEAT",
    "FlowEnvironment",
    "reject_undefined",
    "translate_errors",
]

MAX_RANGE = 100_000
"""The largest ``range()`` a template may build."""

MAX_REPEAT = 1_000_000
"""The most characters or items that ``*`` may produce by repeating a string or a list."""

MAX_INT_BITS = 14_000
"""The largest integer ``*`` and ``**`` may produce, in bits (about 4,200 decimal digits).

Python refuses to print integers of more than 4,300 digits, so a larger result could never be
shown or serialised anyway."""

_CONTAINERS = (list, tuple, dict)


def _describe(obj: Any) -> str:
    if obj is None:
        return "none"
    return f"a value of type {type(obj).__name__!r}"


class _StrictUndefined(StrictUndefined):
    """Strict undefined with messages written for a flow's author rather than a Python developer."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name, obj = self._undefined_name, self._undefined_obj
        if obj is missing:
            return f"{name!r} is undefined"
        if isinstance(obj, SecretsNamespace):
            return f"unknown secret {name!r}"
        if isinstance(obj, Mapping):
            try:
                known = [str(key) for key in itertools.islice(obj, 11)]
            except Exception:  # a lazy view that cannot list itself still deserves a message
                known = []
            if not known:
                return f"{name!r} is undefined (nothing is defined here)"
            more = ", ..." if len(known) > 10 else ""
            return f"{name!r} is undefined (known: {', '.join(known[:10])}{more})"
        if isinstance(obj, list | tuple | str) and isinstance(name, int):
            return f"index {name} is out of range (there are {len(obj)} items)"
        return f"{_describe(obj)} has no attribute {name!r}"


def reject_undefined(value: Any) -> None:
    """Raise if an undefined value hides inside a list, tuple or dict built by a template.

    Strict undefined objects fail when printed or used, but not when merely stored, so
    ``{{ [nope] }}`` would otherwise yield a list holding an Undefined.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, dict):
        for key, item in value.items():
            reject_undefined(key)
            reject_undefined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            reject_undefined(item)


def _finalize(value: Any) -> Any:
    if type(value) in _CONTAINERS:
        reject_undefined(value)
    return value


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:  # longer than sys.maxsize
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise ExpressionError("unsafe", f"range() is limited to {MAX_RANGE:,} numbers")
    return numbers


def _check_multiply(left: Any, right: Any) -> None:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and isinstance(times, int):
            size = len(sequence) * times
            if size > MAX_REPEAT:
                kind = type(sequence).__name__
                raise ExpressionError(
                    "unsafe",
                    f"repeating this {kind} would produce {size:,} items; the limit is {MAX_REPEAT:,}",
                )
            return
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise ExpressionError("unsafe", "the result of this multiplication would be too large")


def _check_power(base: Any, exponent: Any) -> None:
    # Only integer powers grow without bound; float powers overflow quickly to an error, and
    # negative exponents give floats.
    if (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and math.log2(abs(base)) * exponent > MAX_INT_BITS
    ):
        raise ExpressionError("unsafe", f"{base} ** {exponent} would be too large (limit: about 4,200 digits)")


class FlowEnvironment(ImmutableSandboxedEnvironment):
    """The sandboxed environment for flow templates (see the module documentation)."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        super().__init__(
            undefined=_StrictUndefined,
            autoescape=False,
            # A parameter's text must come out exactly as written, final newline included.
            keep_trailing_newline=True,
            finalize=_finalize,
            # An empty loader so that {% include %} and {% import %} fail with "not found".
            loader=DictLoader({}),
        )
        for name in ("lipsum", "cycler", "joiner"):
            self.globals.pop(name, None)
        self.globals["range"] = _bounded_range
        self.globals.update(GLOBALS)
        self.filters.update(FILTERS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Read ``obj.attribute``, preferring a mapping's data over its methods."""
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except LookupError:
                pass
        return super().getattr(obj, attribute)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """The value given for an attribute the sandbox refuses; it fails when used."""
        return self.undefined(
            f"access to attribute {attribute!r} is not allowed",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply ``*`` or ``**`` after checking that the result stays reasonably small."""
        if operator == "*":
            _check_multiply(left, right)
        elif operator == "**":
            _check_power(left, right)
        return self.binop_table[operator](left, right)


ENVIRONMENT = FlowEnvironment()


def _translate(exc: Exception, source: str) -> ExpressionError:  # noqa: C901
    if isinstance(exc, ExpressionError):
        if not exc.source:
            exc.source = source
        return exc
    kind: ErrorKind
    if isinstance(exc, TemplateSyntaxError):
        kind, message = "syntax", f"{(exc.message or str(exc)).rstrip('.')} (line {exc.lineno})"
    elif isinstance(exc, SecurityError):
        kind, message = "unsafe", str(exc)
    elif isinstance(exc, UndefinedError):
        kind, message = "undefined", str(exc)
    elif isinstance(exc, TemplateNotFound):
        kind, message = "runtime", f"template {exc.name!r} not found: templates cannot include others"
    elif isinstance(exc, TemplateError):
        kind, message = "runtime", str(exc)
    elif isinstance(exc, TypeError):
        kind, message = "type", str(exc)
    elif isinstance(exc, RecursionError):
        kind, message = "runtime", "the template calls itself too deeply"
    elif isinstance(exc, MemoryError):
        kind, message = "runtime", "the template needs more memory than is available"
    else:
        kind, message = "runtime", str(exc) or type(exc).__name__
    return ExpressionError(kind, message, source)


class translate_errors:
    """Context manager turning any error raised by a template into an `ExpressionError`.

    Exceptions that are not `Exception` (cancellation, ``KeyboardInterrupt``) pass untouched.
    When a scope is given and holds a `SecretsNamespace`, secret values in the message are
    masked: a conversion error may quote the value it could not convert.

    Args:
        source: The template text, attached to the error.
        scope: The names the template was rendered with, if any.
    """

    __slots__ = ("_scope", "_source")

    def __init__(self, source: str, scope: Mapping[str, Any] | None = None) -> None:
        self._source = source
        self._scope = scope

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or not isinstance(exc, Exception):
            return
        error = _translate(exc, self._source)
        self._mask(error)
        if error is exc:
            return
        # No chaining: the original message may quote values (secrets included) unmasked.
        raise error from None

    def _mask(self, error: ExpressionError) -> None:
        if self._scope is None:
            return
        try:
            secrets = self._scope.get("secrets")
        except Exception:
            return
        if isinstance(secrets, SecretsNamespace):
            error.message = secrets.masker.mask_text(error.message)
            error.args = (error.message,)

"""Errors raised by expressions.

::

    Exception
    └── ExpressionError            kind: syntax | undefined | unsafe | type | runtime
        └── UnknownSecretError     (also a KeyError, so secrets behave as a Mapping)

Every failure inside a template, whatever library raised it, reaches callers as an
`ExpressionError`; the translation happens in one place, `translate_errors` in
`_environment.py`.
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["syntax", "undefined", "unsafe", "type", "runtime"]


class ExpressionError(Exception):
    """A template could not be compiled or evaluated.

    Attributes:
        kind: What went wrong: ``"syntax"`` (the text is not a valid template), ``"undefined"``
            (a name or key does not exist), ``"unsafe"`` (the sandbox refused an operation),
            ``"type"`` (a value has the wrong type or cannot be converted) or ``"runtime"``
            (anything else that failed while rendering).
        message: A plain sentence meant for the flow's author.
        source: The template text, or ``""`` when not known.
    """

    def __init__(self, kind: ErrorKind, message: str, source: str = "") -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, message={self.message!r}, source={self.source!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # The default reduction replays ``args`` (the message alone) into ``__init__``, which
        # needs the kind too; errors are pickled when they cross a process boundary.
        return (type(self), (self.kind, self.message, self.source))


class UnknownSecretError(ExpressionError, KeyError):
    """A template asked for a secret that does not exist.

    It is a `KeyError` as well, so the secrets namespace honours the `Mapping` protocol
    (``in``, ``.get()``, ``is defined`` and ``default`` all work).
    """

    def __init__(self, name: str, source: str = "") -> None:
        super().__init__("undefined", f"unknown secret {name!r}", source)
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name, self.source))

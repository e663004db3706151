"""Errors of the shared core, drawn as a tree.

    RpaError
    ├── FlowLoadError          the document cannot be read (bad JSON/YAML, with line and column)
    ├── FlowInvalidError       the document breaks the format (every problem, with its JSON path)
    ├── FlowInputError         the inputs given to a flow do not match its declared inputs
    ├── UnknownStepError       a step type is not in the catalogue (with close matches)
    ├── DuplicateStepError     two step definitions share a name
    └── StepError              a step failed; `kind` and `retryable` drive the retry policy
        ├── BusinessError      bad data or a business rule: never retried
        ├── StepTimeout        the step ran out of time: retryable
        ├── StepCancelled      the execution was cancelled while the step ran
        └── MissingDependency  an optional library or system package is missing: not retryable

Retry is data on the error (`kind`, `retryable`), never the class name, so a plugin can raise a
plain `StepError(kind="rate_limited", retryable=True)` and a flow can retry just that kind.
"""

from __future__ import annotations

from typing import Any


class RpaError(Exception):
    """Base of every error the suite raises on purpose."""


class FlowLoadError(RpaError):
    """The flow document could not be parsed."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}")


class FlowInvalidError(RpaError):
    """The flow document has problems; `problems` lists all of them."""

    def __init__(self, problems: list[Any]) -> None:
        self.problems = problems
        lines = "; ".join(f"{p.path}: {p.message}" for p in problems[:5])
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"the flow is invalid: {lines}{more}")


class FlowInputError(RpaError):
    """Inputs do not match the flow's declared inputs."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class UnknownStepError(RpaError):
    """A step type is not in the catalogue."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown step type '{name}'{hint}")


class DuplicateStepError(RpaError):
    """Two step definitions were registered under one name."""


class StepError(RpaError):
    """A step failed.

    Args:
        message: a plain sentence for the user (never a secret value).
        kind: a short error kind that retry policies can select (`application`, `business`,
            `timeout`, `validation`, `expression`, ...).
        retryable: whether retrying may help.
        details: JSON-ready facts about the failure.
    """

    default_kind = "application"
    default_retryable = True

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        retryable: bool | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind or self.default_kind
        self.retryable = self.default_retryable if retryable is None else retryable
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON form journaled in `node.failed` events."""
        return {"kind": self.kind, "message": self.message, "retryable": self.retryable, "details": self.details}


class BusinessError(StepError):
    """Bad data or a broken business rule; retrying cannot help."""

    default_kind = "business"
    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        kind: str | None = None,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
    ) -> None:
        # Retrying cannot fix bad data, whatever the caller says.
        del retryable
        super().__init__(message, kind=kind, retryable=False, details=details)


class StepTimeout(StepError):
    """The step did not finish within its timeout."""

    default_kind = "timeout"
    default_retryable = True


class StepCancelled(StepError):
    """The execution was cancelled."""

    default_kind = "cancelled"
    default_retryable = False


class MissingDependency(StepError):
    """An optional Python extra or a system package is not installed."""

    default_kind = "dependency"
    default_retryable = False

    def __init__(self, what: str, *, extra: str | None = None, system_package: str | None = None) -> None:
        hints = []
        if extra:
            hints.append(f"install the '{extra}' extra (pip install 'rpa-suite[{extra}]')")
        if system_package:
            hints.append(f"install the system package '{system_package}'")
        super().__init__(f"{what} is not available: {' and '.join(hints) or 'it is not installed'}")

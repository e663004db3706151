"""Check and complete the inputs given to a flow against its declared inputs."""

from __future__ import annotations

from typing import Any

from shared.errors import FlowInputError
from shared.flow._model import Flow

_CHECKS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def value_fits(value: Any, type_name: str) -> bool:
    """Whether `value` is of the declared input type `type_name` (a bool is no number; an unknown
    type accepts anything)."""
    expected = _CHECKS.get(type_name)
    if expected is None:
        return True
    return isinstance(value, expected) and not (isinstance(value, bool) and type_name in ("integer", "number"))


def resolve_inputs(flow: Flow, given: dict[str, Any] | None) -> dict[str, Any]:
    """Inputs with defaults filled in, checked against their declared types.

    Raises:
        FlowInputError: naming every missing, unknown or ill-typed input.
    """
    given = dict(given or {})
    problems: list[str] = []
    resolved: dict[str, Any] = {}
    for name, spec in flow.inputs.items():
        if name in given:
            value = given.pop(name)
        elif spec.required:
            problems.append(f"inputs.{name}: required input is missing")
            continue
        else:
            value = spec.default
        if value is not None and not value_fits(value, spec.type):
            problems.append(f"inputs.{name}: expected {spec.type}, got {type(value).__name__} {value!r}")
            continue
        resolved[name] = value
    for name in sorted(given):
        problems.append(f"inputs.{name}: the flow declares no such input")
    if problems:
        raise FlowInputError(problems)
    return resolved

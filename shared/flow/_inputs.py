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
        expected = _CHECKS.get(spec.type)
        if value is not None and expected is not None:
            is_bool = isinstance(value, bool)
            if not isinstance(value, expected) or (is_bool and spec.type in ("integer", "number")):
                problems.append(f"inputs.{name}: expected {spec.type}, got {type(value).__name__} {value!r}")
                continue
        resolved[name] = value
    for name in sorted(given):
        problems.append(f"inputs.{name}: the flow declares no such input")
    if problems:
        raise FlowInputError(problems)
    return resolved

"""The flow builder: a description (and optionally the current flow) in, a valid flow out.

The model is given the flow format (`shared.flow.flow_json_schema()`) and a compact step catalogue
(one line per step: type, summary, params with `*` on the required ones); its answer is checked
with the same validation as a saved draft (`workflows.problems_of`), and an invalid answer is
sent back with its problems until it validates or `max_attempts` answers were asked for.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from orchestrator.services.ai._loop import Outcome, ask_until_valid
from orchestrator.services.ai._model import ModelClient
from orchestrator.services.workflows import problems_of, step_registry
from shared.flow import flow_json_schema
from shared.steps import StepDefinition


def _params_of(definition: StepDefinition) -> str:
    required = set(definition.params.model_json_schema().get("required", []))
    names = [f"{name}*" if name in required else name for name in definition.params.model_fields]
    return ", ".join(names)


@functools.cache
def step_catalogue() -> str:
    """One line per step type of the catalogue: `type — summary (params; * = required)`."""
    lines = [f"{d.name} — {d.summary} ({_params_of(d)})" for d in sorted(step_registry(), key=lambda d: d.name)]
    return "\n".join(lines)


@functools.cache
def _format() -> str:
    return json.dumps(flow_json_schema(), separators=(",", ":"))


def flow_system_prompt() -> str:
    """What the model is told before every flow request: the format, the steps, the answer's form."""
    return (
        "You design automation flows for an RPA suite. A flow is a JSON document in this JSON Schema:\n"
        f"{_format()}\n\n"
        "Node types are the step types of this catalogue (params marked * are required):\n"
        f"{step_catalogue()}\n\n"
        "Values may be expressions as the schema allows. Reference credentials by name only; never "
        "put a secret value in a flow. Answer with the flow's JSON only, no prose."
    )


def _check_flow(value: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    problems = problems_of(value)
    if problems:
        return None, problems
    flow: dict[str, Any] = value
    return flow, []


def flow_prompt(description: str, current: dict[str, Any] | None) -> str:
    """The first user message of a flow request."""
    if current is None:
        return f"Build a flow that does this:\n{description}"
    return (
        f"Here is the current flow:\n{json.dumps(current, indent=1)}\n\n"
        f"Change it as follows, keeping what is not asked to change, and answer with the whole flow:\n{description}"
    )


async def build_flow(
    model: ModelClient,
    description: str,
    *,
    current: dict[str, Any] | None = None,
    max_attempts: int = 3,
    outcome: Outcome[dict[str, Any]] | None = None,
) -> Outcome[dict[str, Any]]:
    """Ask `model` for a flow that does what `description` says (a change of `current` when given).

    Returns:
        The outcome (`outcome` when given, filled as answers arrive): the valid flow, or None
        with the problems of the last answer; attempts and token usage either way.
    """
    return await ask_until_valid(
        model,
        flow_system_prompt(),
        flow_prompt(description, current),
        _check_flow,
        max_attempts=max_attempts,
        outcome=outcome,
    )

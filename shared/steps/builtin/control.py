"""`control.*` and `flow.call`: routing and containers.

Routers (`control.if`, `control.switch`) are ordinary steps that return a `Route`. Containers
(loops, try) and `flow.call` are run by the engine itself; their functions here only carry the
definition (params model, bodies, docs) for validation and the catalogue.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.steps._api import NoParams, Route, step


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IfParams(_Params):
    condition: Any = Field(description="Truthy → port 'true', otherwise port 'false'.")


class SwitchParams(_Params):
    value: Any = Field(description="The value to match.")
    cases: list[str] = Field(min_length=1, description="Port names; the first equal to str(value) fires.")


class ForeachParams(_Params):
    items: Any = Field(description="A list (an object gives {key, value} pairs; a number N gives 0..N-1).")
    concurrency: int = Field(default=1, ge=1, le=256, description="Iterations run at the same time (1 = in order).")
    collect: Any = Field(default=None, description="Per-iteration result (expression); default: body outputs.")


class ParallelForeachParams(ForeachParams):
    concurrency: int = Field(default=8, ge=1, le=256, description="Iterations run at the same time.")


class WhileParams(_Params):
    condition: Any = Field(description="Checked before each iteration; `index` is in scope.")
    max_iterations: int = Field(default=1000, ge=1, description="Guard: more iterations fail the node.")
    collect: Any = Field(default=None, description="Per-iteration result (expression).")


class CallParams(_Params):
    flow: str = Field(description="The sub-flow: a file path relative to this flow, or a published name.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Inputs of the sub-flow.")


@step("control.if", params=IfParams, kind="router", ports=("true", "false"), output="The condition's truth value.")
def control_if(params: IfParams) -> Route:
    """Route to port 'true' or 'false'."""
    return Route("true" if params.condition else "false", bool(params.condition))


@step("control.switch", params=SwitchParams, kind="router", ports=("default",), output="The matched case.")
def control_switch(params: SwitchParams) -> Route:
    """Route to the port named like the value, or to 'default'."""
    key = str(params.value).lower() if isinstance(params.value, bool) else str(params.value)
    port = key if key in params.cases else "default"
    return Route(port, port)


@step(
    "control.foreach",
    params=ForeachParams,
    kind="container",
    bodies=("body",),
    required_bodies=("body",),
    output="The list of iteration results.",
)
def control_foreach(params: ForeachParams) -> None:
    """Run the body once per item (`item`, `index` in scope); in order unless concurrency > 1."""


@step(
    "control.parallel_foreach",
    params=ParallelForeachParams,
    kind="container",
    bodies=("body",),
    required_bodies=("body",),
    output="The list of iteration results, in item order.",
)
def control_parallel_foreach(params: ParallelForeachParams) -> None:
    """Run the body for several items at once (default: the flow's parallel limit)."""


@step(
    "control.while",
    params=WhileParams,
    kind="container",
    bodies=("body",),
    required_bodies=("body",),
    output="The list of iteration results.",
)
def control_while(params: WhileParams) -> None:
    """Repeat the body while the condition holds, at most max_iterations times."""


@step(
    "control.try",
    params=NoParams,
    kind="container",
    bodies=("body", "catch", "finally"),
    required_bodies=("body",),
    output="{failed, error}.",
)
def control_try(params: NoParams) -> None:
    """Run the body; on failure run 'catch' (`error` in scope); always run 'finally'."""


@step("flow.call", params=CallParams, kind="subflow", output="The sub-flow's outputs.")
def flow_call(params: CallParams) -> None:
    """Run another flow as a sub-flow, with mapped inputs; its outputs become this node's output."""


CONTROL_STEPS = (
    control_if,
    control_switch,
    control_foreach,
    control_parallel_foreach,
    control_while,
    control_try,
    flow_call,
)

"""Pydantic models of the flow document (`"schema": "rpa.flow/1"`).

A flow is a graph of nodes joined by edges. Containers (`control.foreach`, `control.while`,
`control.try`, ...) hold nested graphs in `body` / `catch` / `finally`, so every graph stays
acyclic. The models check the *shape* of a document; the validator (`shared.flow.validate_flow`)
checks what needs the step catalogue or the whole graph (types, params, edges, cycles).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_TAG = "rpa.flow/1"

NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]*$"

IDENTIFIER_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
"""A name of an input, output or variable: usable as `inputs.<name>` in expressions."""

ErrorPolicy = Literal["fail", "skip", "continue", "fallback"]
Priority = Literal["low", "normal", "high", "urgent"]
ValueType = Literal["string", "number", "integer", "boolean", "object", "array", "any"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetryPolicy(_Model):
    """How often and how patiently a failing node is tried again."""

    max_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        default=1, description="Total attempts, the first one included."
    )
    backoff_s: Annotated[float, Field(ge=0)] = Field(default=1.0, description="Delay before the 2nd attempt.")
    factor: Annotated[float, Field(ge=1)] = Field(default=2.0, description="Each further delay is multiplied by this.")
    max_delay_s: Annotated[float, Field(ge=0)] = Field(default=60.0, description="Upper bound of one delay.")
    on: list[str] | None = Field(
        default=None,
        description="Error kinds to retry (e.g. ['timeout', 'application']). "
        "Default: every error the step marks as retryable.",
    )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before `attempt` (2 for the first retry)."""
        if attempt <= 1:
            return 0.0
        return float(min(self.max_delay_s, self.backoff_s * self.factor ** (attempt - 2)))


class InputSpec(_Model):
    """A typed flow input."""

    type: ValueType = "any"
    default: Any = None
    required: bool = False
    description: str = ""


class FlowSettings(_Model):
    """Execution-wide settings."""

    timeout_s: Annotated[float, Field(gt=0)] | None = Field(default=None, description="Whole-execution timeout.")
    priority: Priority = "normal"
    max_concurrent_executions: Annotated[int, Field(ge=1)] | None = None
    max_parallel_nodes: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=8, description="Upper bound of steps running at the same time in one execution."
    )
    hotkey: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="Global hotkey that starts this flow on an attended agent (e.g. 'ctrl+alt+i')."
    )


class Edge(_Model):
    """`{from, port, to}`: `to` may run once `from` has finished and emitted on `port`."""

    source: str = Field(alias="from")
    port: str = "out"
    to: str


class Node(_Model):
    """One step of a flow, or a container holding nested graphs."""

    id: Annotated[str, Field(pattern=NODE_ID_PATTERN, max_length=128)]
    type: Annotated[str, Field(min_length=1)]
    name: str | None = None
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout_s: Annotated[float, Field(gt=0)] | None = None
    on_error: ErrorPolicy = "fail"
    disabled: bool = Field(
        default=False, description="Do not run the step: it passes through (output null, port 'out')."
    )
    set: dict[Identifier, Any] = Field(
        default_factory=dict,
        description="Variables assigned after the node succeeds; `output` is in scope.",
    )
    body: Graph | None = None
    catch: Graph | None = None
    finally_: Graph | None = Field(default=None, alias="finally")
    ui: dict[str, Any] = Field(default_factory=dict)

    def graphs(self) -> dict[str, Graph]:
        """The nested graphs this node holds, by their document name (`finally`, not `finally_`)."""
        found: dict[str, Graph] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, Graph):
                found[field.alias or name] = value
        return found


class Graph(_Model):
    """Nodes and the edges between them."""

    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)


class Flow(Graph):
    """The whole flow document."""

    schema_: Literal["rpa.flow/1"] = Field(alias="schema")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    version: str | None = None
    inputs: dict[Identifier, InputSpec] = Field(default_factory=dict)
    outputs: dict[Identifier, Any] = Field(
        default_factory=dict, description="Output name to value (usually an expression)."
    )
    variables: dict[Identifier, Any] = Field(default_factory=dict)
    requires: list[str] = Field(default_factory=list)
    settings: FlowSettings = Field(default_factory=FlowSettings)
    tags: list[str] = Field(default_factory=list)
    ui: dict[str, Any] = Field(
        default_factory=dict, description="Free-form editor data (sticky notes...); ignored when running."
    )

    def to_document(self) -> dict[str, Any]:
        """The JSON-ready document, with aliases (`schema`, `from`, `finally`)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True) | {"schema": SCHEMA_TAG}


Node.model_rebuild()


def flow_json_schema() -> dict[str, Any]:
    """The JSON Schema of the flow format, for editors."""
    schema = Flow.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://rpa-suite.dev/schema/rpa.flow-1.json"
    schema["title"] = "RPA flow (rpa.flow/1)"
    return schema

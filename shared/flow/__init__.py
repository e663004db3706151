"""The flow document: models, loading, validation, inputs."""

from shared.flow._inputs import resolve_inputs
from shared.flow._load import load_flow, parse_document
from shared.flow._model import (
    SCHEMA_TAG,
    Edge,
    Flow,
    FlowSettings,
    Graph,
    InputSpec,
    Node,
    RetryPolicy,
    flow_json_schema,
)
from shared.flow._validate import Problem, validate_document, validate_flow

__all__ = [
    "SCHEMA_TAG",
    "Edge",
    "Flow",
    "FlowSettings",
    "Graph",
    "InputSpec",
    "Node",
    "Problem",
    "RetryPolicy",
    "flow_json_schema",
    "load_flow",
    "parse_document",
    "resolve_inputs",
    "validate_document",
    "validate_flow",
]

"""The flow document: models, loading, validation, inputs, and the walk over nested graphs."""

from shared.flow._credentials import find_credential_params
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
from shared.flow._walk import TOP_GRAPH, GraphShape, GraphVisit, NodeVisit, walk_graphs, walk_nodes

__all__ = [
    "SCHEMA_TAG",
    "TOP_GRAPH",
    "Edge",
    "Flow",
    "FlowSettings",
    "Graph",
    "GraphShape",
    "GraphVisit",
    "InputSpec",
    "Node",
    "NodeVisit",
    "Problem",
    "RetryPolicy",
    "find_credential_params",
    "flow_json_schema",
    "load_flow",
    "parse_document",
    "resolve_inputs",
    "validate_document",
    "validate_flow",
    "walk_graphs",
    "walk_nodes",
]

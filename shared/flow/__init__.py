"""The flow document: models, loading, validation, inputs, the walk over nested graphs, and
the structured difference between two documents."""

from shared.flow._assets import (
    ASSET_CONTENT_TYPES,
    ASSET_MARK,
    MAX_ASSET_BYTES,
    MAX_ASSETS,
    MAX_VERSION_ASSET_BYTES,
    AssetError,
    AssetUse,
    asset_uses,
    check_asset,
    find_assets,
    image_paths,
    is_flow_relative,
    normalise_asset_path,
)
from shared.flow._credentials import find_credential_params
from shared.flow._diff import DOCUMENT_FIELDS, diff_documents
from shared.flow._inputs import resolve_inputs, value_fits
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
from shared.flow._validate import Problem, missing_assets, validate_document, validate_flow
from shared.flow._walk import TOP_GRAPH, GraphShape, GraphVisit, NodeVisit, walk_graphs, walk_nodes

__all__ = [
    "ASSET_CONTENT_TYPES",
    "ASSET_MARK",
    "DOCUMENT_FIELDS",
    "MAX_ASSETS",
    "MAX_ASSET_BYTES",
    "MAX_VERSION_ASSET_BYTES",
    "SCHEMA_TAG",
    "TOP_GRAPH",
    "AssetError",
    "AssetUse",
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
    "asset_uses",
    "check_asset",
    "diff_documents",
    "find_assets",
    "find_credential_params",
    "flow_json_schema",
    "image_paths",
    "is_flow_relative",
    "load_flow",
    "missing_assets",
    "normalise_asset_path",
    "parse_document",
    "resolve_inputs",
    "validate_document",
    "validate_flow",
    "value_fits",
    "walk_graphs",
    "walk_nodes",
]

"""Step definitions, the catalogue, and what a running step sees."""

from shared.steps._api import (
    ASSET_FILE,
    ASSET_TARGETS,
    CREDENTIAL_NAME,
    ExecutionResources,
    NoParams,
    Output,
    Route,
    StepContext,
    StepDefinition,
    context,
    definition_of,
    step,
)
from shared.steps._registry import ENTRY_POINT_GROUP, StepRegistry
from shared.steps._testing import StepEnvironment

__all__ = [
    "ASSET_FILE",
    "ASSET_TARGETS",
    "CREDENTIAL_NAME",
    "ENTRY_POINT_GROUP",
    "ExecutionResources",
    "NoParams",
    "Output",
    "Route",
    "StepContext",
    "StepDefinition",
    "StepEnvironment",
    "StepRegistry",
    "context",
    "definition_of",
    "step",
]

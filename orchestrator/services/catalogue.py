"""The step catalogue the orchestrator validates flows against and reads their needs from."""

from __future__ import annotations

import functools

from shared.flow import GraphShape
from shared.steps import StepRegistry

__all__ = ["graph_shape", "step_registry"]


@functools.cache
def step_registry() -> StepRegistry:
    """The step catalogue drafts are validated against (built-ins plus installed plugins)."""
    return StepRegistry.default()


@functools.cache
def graph_shape() -> GraphShape:
    """Where the catalogue's containers hold nested graphs (read once from `step_registry()`)."""
    return GraphShape(step_registry())

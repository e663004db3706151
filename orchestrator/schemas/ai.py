"""Request and response models of the AI routes (flow builder, failure diagnosis, usage)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class AiUsagePublic(BaseModel):
    """Tokens one AI request used (over all its attempts), and their price."""

    input_tokens: int
    output_tokens: int
    cost_usd: float


class FlowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000)] = Field(
        description="What the flow should do (or how to change `flow`)."
    )
    flow: dict[str, Any] | None = Field(
        default=None, description="The current flow, to be changed rather than replaced (optional)."
    )


class FlowProposal(BaseModel):
    """A proposed flow that validates against the format and the step catalogue."""

    flow: dict[str, Any]
    model: str
    attempts: int = Field(description="Answers the model gave; the earlier ones did not validate.")
    usage: AiUsagePublic


class DiagnosisPublic(BaseModel):
    """Why an execution failed, and a change to its version's flow (RFC 6902 JSON Patch) that applies
    and validates; the flow after the patch, to show as a diff."""

    execution_id: str
    workflow_id: str
    version_number: int
    failed_node: dict[str, Any] = Field(description="`path`, `id`, `type` and `json_pointer` of the failed node.")
    explanation: str
    patch: list[dict[str, Any]]
    flow: dict[str, Any]
    model: str
    attempts: int
    usage: AiUsagePublic


class AiUsageRow(BaseModel):
    feature: str
    model: str
    requests: int
    attempts: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class AiUsageReport(BaseModel):
    """The organisation's AI usage since `since` (all time when null), per feature and model."""

    since: datetime | None
    items: list[AiUsageRow]
    input_tokens: int
    output_tokens: int
    cost_usd: float

"""What the typed methods of `ApiClient` return: small frozen pydantic models of the API's answers.

They are the client's own, not the orchestrator's schemas (the shared core imports nothing of the
orchestrator), and they ignore fields they do not know, so an older client keeps working against
a newer orchestrator. Ids are strings (UUIDs as the API writes them); times are `datetime`s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

Priority = Literal["low", "normal", "high", "urgent"]
"""The priorities an execution may be started with."""


class ApiModel(BaseModel):
    """The base of every answer: frozen, and blind to fields a newer orchestrator adds."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Page(ApiModel, Generic[T]):
    """One page of a list: `items`, the `total` matching (a lower bound when `total_capped`)."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = None
    total_capped: bool = False


# --- account ----------------------------------------------------------------------------------


class TokenPair(ApiModel):
    """The tokens of a session (the access token is short-lived; the refresh token works once)."""

    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    expires_at: int
    session_id: str
    org_id: str
    password_expired: bool = False


class Me(ApiModel):
    """The signed-in user in the session's organisation."""

    user_id: str
    org_id: str
    session_id: str
    email: str
    role: str
    permissions: list[str]


class OrgMembership(ApiModel):
    """An organisation the user belongs to, with their role there."""

    id: str
    name: str
    slug: str
    role: str


# --- workflows --------------------------------------------------------------------------------


class Problem(ApiModel):
    """One problem of a flow document, located by a JSON path (`$.nodes[2].params.url`)."""

    path: str
    message: str
    code: str
    line: int | None = None
    column: int | None = None


class WorkflowSummary(ApiModel):
    """A workflow as lists show it (without its draft)."""

    id: str
    name: str
    description: str
    category: str | None
    tags: list[str]
    draft_revision: int
    latest_version: int | None
    etag: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class Workflow(WorkflowSummary):
    """A workflow with its draft document."""

    draft: dict[str, Any]


class WorkflowSaved(Workflow):
    """A workflow just written, with the problems of its draft (empty when it can be published)."""

    problems: list[Problem]


class ValidationReport(ApiModel):
    valid: bool
    problems: list[Problem]


class TagCount(ApiModel):
    name: str
    count: int


class VersionSummary(ApiModel):
    """A published version: who published it, when, with which note."""

    id: str
    workflow_id: str
    number: int
    note: str
    source_version: int | None = None
    created_by: str | None
    created_at: datetime


class Version(VersionSummary):
    """A published version with its (immutable) document."""

    document: dict[str, Any]


class WorkflowDiff(ApiModel):
    """What changed between two versions (or a version and the draft), section by section, as the
    API reports it (`nodes.added/removed/changed`, `edges`, `inputs`, ...)."""

    from_: int | Literal["draft"] = Field(alias="from")
    to: int | Literal["draft"]
    identical: bool
    document: dict[str, Any]
    settings: dict[str, Any]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    variables: dict[str, Any]
    nodes: dict[str, Any]
    edges: dict[str, Any]
    assets: dict[str, Any] = Field(default_factory=dict)


class ImportedWorkflow(ApiModel):
    id: str
    name: str
    source_name: str
    latest_version: int | None
    replaced_id: str | None = None


# --- executions -------------------------------------------------------------------------------


class Trigger(ApiModel):
    type: str
    by: dict[str, Any] | None = None
    trigger_id: str | None = None
    trigger_name: str | None = None
    key: str | None = None


class Execution(ApiModel):
    """An execution; `waiting_reason` says why a queued one is not running yet (one-execution read)."""

    id: str
    workflow_id: str
    workflow_name: str
    version_id: str | None = None
    version_number: int
    state: str
    priority: Priority
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    trigger: Trigger
    created_by: str | None
    queued_at: datetime | None
    assigned_at: datetime | None = None
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    agent_id: str | None
    previous_agent_id: str | None = None
    attempt: int
    last_seq: int
    parent_execution_id: str | None
    resume_from: str | None
    waiting_reason: str | None = None
    credentials: list[str] = Field(default_factory=list)
    ai_usage: dict[str, Any] | None = None
    """Tokens and cost of its AI steps (one-execution read only)."""
    created_at: datetime
    updated_at: datetime


class ExecutionEvent(ApiModel):
    """One journal event."""

    seq: int
    type: str
    path: str
    data: dict[str, Any]
    ts: float


class EventsPage(ApiModel):
    """Journal events in seq order; ask again with `after_seq=next_after_seq` for more."""

    items: list[ExecutionEvent]
    limit: int
    after_seq: int
    next_after_seq: int | None
    last_seq: int


class Transition(ApiModel):
    id: str
    seq: int
    from_state: str | None
    to_state: str
    reason: str
    actor: str
    at: datetime


class Artifact(ApiModel):
    id: str
    execution_id: str
    name: str
    size: int
    content_type: str
    sha256: str
    created_at: datetime


# --- agents, enrolment tokens, credentials ----------------------------------------------------


class Agent(ApiModel):
    """An agent with its live status (`online`, `busy`, `unresponsive`, `offline`, `revoked`)."""

    id: str
    name: str
    hostname: str
    labels: list[str]
    capabilities: list[str]
    steps: list[str] = Field(default_factory=list)
    version: str
    max_jobs: int
    status: str
    running: list[str]
    last_seen_at: datetime | None
    connected_at: datetime | None = None
    disconnected_at: datetime | None = None
    revoked_at: datetime | None
    created_at: datetime
    updated_at: datetime | None = None


class EnrolmentToken(ApiModel):
    id: str
    labels: list[str]
    description: str
    state: str
    expires_at: datetime
    used_at: datetime | None
    agent_id: str | None
    revoked_at: datetime | None
    created_at: datetime


class EnrolmentTokenCreated(ApiModel):
    """A new enrolment token: its value (`rpa_et_…`) is shown only here."""

    id: str
    token: str = Field(repr=False)
    labels: list[str]
    expires_at: datetime
    description: str
    created_at: datetime


class Credential(ApiModel):
    """A credential's metadata (its value is never returned)."""

    id: str
    name: str
    kind: str
    description: str
    metadata: dict[str, Any]
    access: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None


# --- AI ---------------------------------------------------------------------------------------


class AiUsage(ApiModel):
    input_tokens: int
    output_tokens: int
    cost_usd: float


class FlowProposal(ApiModel):
    """A flow the orchestrator's flow builder proposed (already validated)."""

    flow: dict[str, Any]
    model: str
    attempts: int
    usage: AiUsage


class Diagnosis(ApiModel):
    """Why a failed execution failed, and a fix as a JSON Patch with the patched flow."""

    execution_id: str
    workflow_id: str
    version_number: int
    failed_node: dict[str, Any]
    explanation: str
    patch: list[dict[str, Any]]
    flow: dict[str, Any]
    model: str
    attempts: int
    usage: AiUsage

"""The typed HTTP client of the orchestrator's API, shared by the `rpa` command, the studio and
the tray.

It speaks HTTP through httpx and nothing else: no command-line or UI code lives here (an
import-linter contract holds it). A refused request is an `ApiError` carrying the API's own
`{"error": {"code", "message", "details"}}` (a save over a newer revision: `StaleRevision`); a
login is kept as a `Session` (URL and refresh token, never a password) in a file only its owner
can read. The typed methods (`client.workflows.list()`, `client.executions.start()`, ...) return
the frozen models of `_models.py`, the client's own (never the orchestrator's schemas).
"""

from shared.client._client import API, ApiClient
from shared.client._exceptions import ApiError, StaleRevision
from shared.client._models import (
    Agent,
    AiUsage,
    Artifact,
    Credential,
    Diagnosis,
    EnrolmentToken,
    EnrolmentTokenCreated,
    EventsPage,
    Execution,
    ExecutionEvent,
    FlowProposal,
    ImportedWorkflow,
    Me,
    OrgMembership,
    Page,
    Priority,
    Problem,
    TagCount,
    Transition,
    ValidationReport,
    Version,
    VersionSummary,
    Workflow,
    WorkflowDiff,
    WorkflowSaved,
    WorkflowSummary,
)
from shared.client._session import Session, load_session, save_session, session_file

__all__ = [
    "API",
    "Agent",
    "AiUsage",
    "ApiClient",
    "ApiError",
    "Artifact",
    "Credential",
    "Diagnosis",
    "EnrolmentToken",
    "EnrolmentTokenCreated",
    "EventsPage",
    "Execution",
    "ExecutionEvent",
    "FlowProposal",
    "ImportedWorkflow",
    "Me",
    "OrgMembership",
    "Page",
    "Priority",
    "Problem",
    "Session",
    "StaleRevision",
    "TagCount",
    "Transition",
    "ValidationReport",
    "Version",
    "VersionSummary",
    "Workflow",
    "WorkflowDiff",
    "WorkflowSaved",
    "WorkflowSummary",
    "load_session",
    "save_session",
    "session_file",
]

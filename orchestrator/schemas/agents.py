"""Request and response bodies of agents and enrolment tokens.

Secrets go out exactly once: the enrolment token in `EnrolmentTokenCreated`, the agent key in
`AgentEnrolled`. No other body has a field for either.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

_Strict = ConfigDict(extra="forbid")

MAX_TOKEN_TTL_S = 30 * 24 * 3600


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database.
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


Label = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[\w.:=/+@-]+$")]
"""A word such as `windows`, `sap`, `region=eu`: letters, digits and `_ . : = / + @ -`."""
Labels = Annotated[list[Label], Field(max_length=50)]
AgentName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)
]
Hostname = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), AfterValidator(_no_nul)]
AgentVersion = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50), AfterValidator(_no_nul)]
Description = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)]

AgentStatus = Literal["online", "busy", "unresponsive", "offline", "revoked"]
"""`revoked` from the row; the others from the WebSocket hub (`offline` when it does not know the agent)."""
TokenState = Literal["active", "used", "expired", "revoked"]


# --- enrolment tokens -------------------------------------------------------------------------


class EnrolmentTokenCreate(BaseModel):
    model_config = _Strict

    labels: Labels = Field(default_factory=list, description="Labels every agent enrolled with it carries.")
    expires_in_s: int = Field(
        default=3600, ge=60, le=MAX_TOKEN_TTL_S, description="Seconds until the token expires (60 s to 30 days)."
    )
    description: Description = ""


class EnrolmentTokenCreated(BaseModel):
    """The new token. `token` is shown here only: it cannot be read again."""

    id: uuid.UUID
    token: str = Field(description="`rpa_et_…`: give it to the machine that enrols (`POST /agents/enroll`).")
    labels: list[str]
    expires_at: datetime
    description: str
    created_at: datetime


class EnrolmentTokenPublic(BaseModel):
    """A token without its value."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    labels: list[str]
    description: str
    state: TokenState
    expires_at: datetime
    used_at: datetime | None
    agent_id: uuid.UUID | None = Field(description="The agent that enrolled with it.")
    revoked_at: datetime | None
    created_by: uuid.UUID | None
    created_at: datetime


# --- enrolment --------------------------------------------------------------------------------


class EnrolRequest(BaseModel):
    model_config = _Strict

    token: str = Field(max_length=200, description="The enrolment token (`rpa_et_…`); it is the credential.")
    name: AgentName
    hostname: Hostname = ""
    labels: Labels = Field(default_factory=list, description="Added to the token's labels.")
    version: AgentVersion = ""


class AgentEnrolled(BaseModel):
    """The enrolled agent and its key. `agent_key` is shown here only: keep it in the OS keyring."""

    agent_id: uuid.UUID
    org_id: uuid.UUID
    agent_key: str = Field(description="`rpa_ak_…`: authenticates the agent's WebSocket.")
    name: str
    labels: list[str]


class AgentKeyRotated(BaseModel):
    """The agent's new key, shown here only; its old key stops working and its connection is closed.
    Install it on the agent's machine with `rpa agent set-key` (it reads the key from standard input)."""

    agent_id: uuid.UUID
    name: str
    agent_key: str = Field(description="`rpa_ak_…`: the new key; the old one no longer authenticates.")


# --- agents -----------------------------------------------------------------------------------


class AgentUpdate(BaseModel):
    """Only the fields given change."""

    model_config = _Strict

    name: AgentName | None = None
    labels: Labels | None = Field(default=None, description="Replaces the labels.")
    max_jobs: int | None = Field(default=None, ge=1, le=1000, description="Jobs it may run at once.")


class AgentPublic(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    hostname: str
    labels: list[str]
    capabilities: list[str]
    steps: list[str] = Field(description="The step types the agent reported it can run.")
    version: str
    max_jobs: int
    status: AgentStatus
    running: list[uuid.UUID] = Field(description="Executions it is running now (from the hub).")
    last_seen_at: datetime | None
    connected_at: datetime | None
    disconnected_at: datetime | None
    revoked_at: datetime | None
    enrolled_with: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

"""Response bodies of the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryPublic(BaseModel):
    """One audited action. `summary` describes before/after without secret values."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seq: int = Field(description="Position in the organisation's chain, from 1.")
    org_id: uuid.UUID | None
    actor_id: uuid.UUID | None
    actor: str
    action: str
    target_type: str
    target_id: str
    ip: str | None
    request_id: str | None
    summary: dict[str, Any]
    created_at: datetime
    prev_hash: str
    hash: str


class AuditProblemPublic(BaseModel):
    seq: int
    problem: Literal["edited", "missing", "inserted", "reordered", "unverifiable", "checkpoint"] = Field(
        description="edited: content or link no longer sealed; missing: a number without its entry (up to the head "
        "or the last signed checkpoint); inserted: an entry this server did not write; reordered: linked to "
        "another predecessor; unverifiable: sealed by an audit key not configured here; checkpoint: differs "
        "from the signed checkpoint."
    )
    id: uuid.UUID | None = Field(description="The entry concerned; unknown for a missing one.")


class AuditVerificationPublic(BaseModel):
    chain: str
    ok: bool
    checked: int = Field(description="Entries examined.")
    head_seq: int = Field(description="The chain's last sequence number when the check started.")
    problems: list[AuditProblemPublic]
    truncated: bool = Field(description="True when there were more problems than listed.")
    keyed_from: int = Field(
        default=1,
        description="The first entry sealed with the audit key (HMAC); those "
        "below were written before the chain was keyed.",
    )
    unkeyed: int = Field(default=0, description="Entries checked that were sealed before the chain was keyed.")
    checkpoint_seq: int | None = Field(
        default=None,
        description="The last signed checkpoint outside the database: the chain must reach it with its hash.",
    )

"""Response models of a workflow's callers and of the breaking-change check before a publish."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

ChangeKind = Literal[
    "input_removed",
    "input_required_added",
    "input_now_required",
    "input_type_changed",
    "output_removed",
    "output_type_changed",
]


class CallSitePublic(BaseModel):
    ref: str = Field(description="Where the call is: `draft`, or the number of the caller's latest version.")
    node: str = Field(description="The id of the `flow.call` node.")


class InterfaceChangePublic(BaseModel):
    kind: ChangeKind
    name: str = Field(description="The input's or output's name.")
    before: Any = Field(default=None, description="The old type, for a type change.")
    after: Any = Field(default=None, description="The new type, for a type change.")
    message: str


class BreakPublic(CallSitePublic):
    kind: ChangeKind
    name: str
    message: str


class CallerPublic(BaseModel):
    workflow_id: uuid.UUID
    name: str
    calls: list[CallSitePublic] = Field(description="Its `flow.call` nodes naming this workflow.")
    breaks: list[BreakPublic] = Field(description="The changes of the draft that break each call (empty: none).")


class CallersPublic(BaseModel):
    workflow_id: uuid.UUID
    name: str
    callers: list[CallerPublic]


class PublishCheck(CallersPublic):
    """What publishing the draft would change under the workflows that call this one."""

    published_version: int | None = Field(description="The version the draft is compared with (None: never published).")
    changes: list[InterfaceChangePublic] = Field(description="Interface changes of the draft that can break a caller.")
    breaking: bool = Field(description="Some caller breaks.")

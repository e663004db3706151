"""Storage models: workflows, their tags and their published versions.

A `Workflow` holds an editable draft (a flow document, saved even when invalid) and the number
of its latest published version. Publishing copies the draft into a `WorkflowVersion`
(numbered 1..n per workflow). Versions are immutable: no route changes or deletes one, and the
ORM refuses to update a loaded version (see `_versions_are_immutable`), so an execution that
pinned a version always runs exactly what was published.

Assets (the files a flow names relative to its folder, e.g. a desktop step's `image:ok.png`) are
kept once per workflow by content (`WorkflowAssetBlob`, keyed by sha256, shared by every version
and the draft that hold the same bytes); the draft's files are `WorkflowDraftAsset` rows (path ->
sha256) and a version records the map it was published with in `WorkflowVersion.assets`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from orchestrator.db.base import Base, SoftDeleteMixin, TenantMixin, TimestampMixin, UuidMixin, utcnow


class Workflow(UuidMixin, TimestampMixin, TenantMixin, SoftDeleteMixin, Base):
    """A named automation of an organisation: its draft, metadata and version counter."""

    __tablename__ = "workflows"
    __table_args__ = (
        # A name is unique among the live workflows of an organisation; a soft-deleted one frees it.
        Index(
            "uq_workflows_org_name_live",
            "org_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_workflows_org_updated", "org_id", "updated_at"),
    )

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str | None] = mapped_column(String(100), default=None, index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Display order; `WorkflowTag` rows mirror it so lists can filter on a tag on every database."""
    draft: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    draft_revision: Mapped[int] = mapped_column(Integer, default=1)
    """+1 on every change of the draft or the metadata; part of the ETag."""
    latest_version: Mapped[int | None] = mapped_column(Integer, default=None)
    sla_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    """How long one execution may take from start to end before it breaches the target (migration
    0017); None: no target."""
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class WorkflowTag(TenantMixin, Base):
    """One tag of one workflow (mirrors `Workflow.tags`)."""

    __tablename__ = "workflow_tags"
    __table_args__ = (Index("ix_workflow_tags_org_tag", "org_id", "tag"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class WorkflowVersion(UuidMixin, TenantMixin, Base):
    """An immutable published copy of a workflow's draft."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "number"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")
    source_version: Mapped[int | None] = mapped_column(Integer, default=None)
    """For a rollback: the number of the version this one copies."""
    assets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    """The assets published with this version: relative path -> sha256 of a `WorkflowAssetBlob`."""
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Joined: whoever holds a version (an execution pinning it) can read the workflow's name.
    workflow: Mapped[Workflow] = relationship(lazy="joined", innerjoin=True)


class WorkflowAssetBlob(UuidMixin, TenantMixin, Base):
    """The bytes of an asset of a workflow, stored once per content (sha256) and never changed."""

    __tablename__ = "workflow_asset_blobs"
    __table_args__ = (UniqueConstraint("workflow_id", "sha256", name="uq_workflow_asset_blobs_content"),)

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkflowDraftAsset(TenantMixin, Base):
    """A file of a workflow's draft: its path relative to the flow, and which content it holds."""

    __tablename__ = "workflow_draft_assets"

    workflow_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ImmutableVersionError(RuntimeError):
    """Raised when code tries to change a published version."""


@event.listens_for(WorkflowVersion, "before_update")
def _versions_are_immutable(_mapper: Mapper[Any], _connection: Any, target: WorkflowVersion) -> None:
    raise ImmutableVersionError(f"workflow version {target.number} of {target.workflow_id} is immutable")

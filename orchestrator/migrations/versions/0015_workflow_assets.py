"""workflow assets: files a flow names, stored by content and frozen with each version

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:20:00.000000

`workflow_asset_blobs` keeps each distinct content of a workflow's assets once (sha256, unique per
workflow); `workflow_draft_assets` maps the draft's relative paths to those contents; and
`workflow_versions.assets` records the map a version was published with (existing versions: `{}`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0003"  # the workflow tables live on that branch


def upgrade() -> None:
    op.create_table(
        "workflow_asset_blobs",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_workflow_asset_blobs_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_asset_blobs_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_asset_blobs")),
        sa.UniqueConstraint("workflow_id", "sha256", name="uq_workflow_asset_blobs_content"),
    )
    op.create_index(op.f("ix_workflow_asset_blobs_org_id"), "workflow_asset_blobs", ["org_id"], unique=False)
    op.create_table(
        "workflow_draft_assets",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisations.id"],
            name=op.f("fk_workflow_draft_assets_org_id_organisations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_draft_assets_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workflow_id", "path", name=op.f("pk_workflow_draft_assets")),
    )
    op.create_index(op.f("ix_workflow_draft_assets_org_id"), "workflow_draft_assets", ["org_id"], unique=False)
    with op.batch_alter_table("workflow_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assets", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("workflow_versions", schema=None) as batch_op:
        batch_op.alter_column("assets", existing_type=sa.JSON(), server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("workflow_versions", schema=None) as batch_op:
        batch_op.drop_column("assets")
    op.drop_index(op.f("ix_workflow_draft_assets_org_id"), table_name="workflow_draft_assets")
    op.drop_table("workflow_draft_assets")
    op.drop_index(op.f("ix_workflow_asset_blobs_org_id"), table_name="workflow_asset_blobs")
    op.drop_table("workflow_asset_blobs")

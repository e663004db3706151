"""triggers and the events they saw

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 18:30:00.000000

`triggers` keeps each trigger of a workflow (kind, config, input mapping, pinned version), its
state (fire count, last fired, last error, next fire time, status), the lease that lets one
orchestrator process run it, and its source's cursor. `trigger_events` keeps the events a trigger
saw, unique per `(trigger_id, key)`: the row is inserted with the execution it starts, so a
repeated event is a no-op.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamp(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("workflow_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("refused_count", sa.Integer(), nullable=False),
        _stamp("last_fired_at"),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        _stamp("last_error_at"),
        _stamp("next_fire_at"),
        sa.Column("status", sa.String(length=200), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        _stamp("lease_expires_at"),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        _stamp("created_at", nullable=False),
        _stamp("updated_at", nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_triggers_org_id_organisations", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name="fk_triggers_workflow_id_workflows", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_triggers"),
        sa.UniqueConstraint("token_hash", name="uq_triggers_token_hash"),
    )
    op.create_index("ix_triggers_kind_enabled", "triggers", ["kind", "enabled"])
    op.create_index("ix_triggers_org_id", "triggers", ["org_id"])
    op.create_index("ix_triggers_org_workflow", "triggers", ["org_id", "workflow_id"])
    op.create_table(
        "trigger_events",
        sa.Column("trigger_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        _stamp("received_at", nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_trigger_events_org_id_organisations", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"], ["triggers.id"], name="fk_trigger_events_trigger_id_triggers", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_trigger_events"),
        sa.UniqueConstraint("trigger_id", "key", name="uq_trigger_events_trigger_key"),
    )
    op.create_index("ix_trigger_events_org_id", "trigger_events", ["org_id"])
    op.create_index("ix_trigger_events_trigger_received", "trigger_events", ["trigger_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_trigger_events_trigger_received", table_name="trigger_events")
    op.drop_index("ix_trigger_events_org_id", table_name="trigger_events")
    op.drop_table("trigger_events")
    op.drop_index("ix_triggers_org_workflow", table_name="triggers")
    op.drop_index("ix_triggers_org_id", table_name="triggers")
    op.drop_index("ix_triggers_kind_enabled", table_name="triggers")
    op.drop_table("triggers")

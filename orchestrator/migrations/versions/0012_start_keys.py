"""idempotency keys of starts; an index of what each agent holds

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:10:00.000000

`POST /executions` and `POST /executions/batch` accept an `Idempotency-Key` header. The key is
stored with the executions the request made, in the same transaction, so a client that retries a
start whose answer it lost gets the same executions back instead of a second run. Keys are kept
for `RPA_IDEMPOTENCY_TTL_S` (a day by default); expired ones are deleted as new keys are stored.

Every agent handshake now reads the executions the agent holds (to requeue those its hello does not
report): `ix_executions_held_agent` indexes `agent_id` of held executions only (a partial index),
so that read does not scan every held execution, and rows outside those states cost it nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = "state IN ('assigned', 'running', 'paused')"


def upgrade() -> None:
    op.create_table(
        "start_keys",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("caller", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("execution_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_start_keys_org_id_organisations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "caller", "key", name="pk_start_keys"),
    )
    op.create_index("ix_start_keys_expires_at", "start_keys", ["expires_at"])
    op.create_index(
        "ix_executions_held_agent",
        "executions",
        ["agent_id"],
        sqlite_where=sa.text(_HELD),
        postgresql_where=sa.text(_HELD),
    )


def downgrade() -> None:
    op.drop_index("ix_executions_held_agent", table_name="executions")
    op.drop_index("ix_start_keys_expires_at", table_name="start_keys")
    op.drop_table("start_keys")

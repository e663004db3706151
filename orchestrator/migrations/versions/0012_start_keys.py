"""idempotency keys of starts

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-07 09:10:00.000000

`POST /executions` and `POST /executions/batch` accept an `Idempotency-Key` header. The key is
stored with the executions the request made, in the same transaction, so a client that retries a
start whose answer it lost gets the same executions back instead of a second run. Keys are kept
for `RPA_IDEMPOTENCY_TTL_S` (a day by default); expired ones are deleted as new keys are stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name="fk_start_keys_org_id_organisations",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("org_id", "caller", "key", name="pk_start_keys"),
    )
    op.create_index("ix_start_keys_expires_at", "start_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_start_keys_expires_at", table_name="start_keys")
    op.drop_table("start_keys")

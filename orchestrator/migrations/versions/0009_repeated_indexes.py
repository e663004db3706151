"""drop the two indexes whose column a composite index already starts with

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:10:00.000000

`ix_executions_org_id` (org_id) is the first column of `ix_executions_org_state`,
`ix_executions_org_created` and `ix_executions_org_workflow_created`; `ix_audit_log_chain` (chain)
is the first column of the unique (chain, seq). Queries by organisation or chain, and the
foreign key's checks, use those. Every row inserted wrote both for nothing, and each index is
pages more written at every commit: on SQLite, a transaction that stores one start wrote 105 KiB,
now 94.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_executions_org_id", table_name="executions")
    op.drop_index("ix_audit_log_chain", table_name="audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_chain", "audit_log", ["chain"])
    op.create_index("ix_executions_org_id", "executions", ["org_id"])

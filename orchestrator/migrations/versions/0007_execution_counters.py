"""execution counters: transitions recorded and highest journal seq stored

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 04:00:00.000000

`history_seq` numbers an execution's state history without a `max()` query per transition;
`stored_seq` (the highest journal seq stored, gaps included) lets a batch that simply continues
the journal skip the look-ups a batch filling a gap needs. Both are filled from the rows. An index on `state`
serves the lease reaper, which looks at unfinished executions of every organisation.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("history_seq", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("executions", sa.Column("stored_seq", sa.BigInteger(), nullable=False, server_default="0"))
    # The lease reaper looks at every unfinished execution twice a second, across organisations.
    op.create_index("ix_executions_state", "executions", ["state"])
    op.execute(
        "UPDATE executions SET history_seq = COALESCE((SELECT MAX(t.seq) FROM execution_transitions t "
        "WHERE t.execution_id = executions.id), 0)"
    )
    op.execute(
        "UPDATE executions SET stored_seq = COALESCE((SELECT MAX(e.seq) FROM execution_events e "
        "WHERE e.execution_id = executions.id), 0)"
    )


def downgrade() -> None:
    op.drop_index("ix_executions_state", table_name="executions")
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("stored_seq")
        batch.drop_column("history_seq")

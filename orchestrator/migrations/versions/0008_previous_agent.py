"""executions remember the agent they were requeued from

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:00:00.000000

`previous_agent_id` is set when an execution's agent is lost and the execution goes back to the
queue. If that agent comes back before another agent took the execution, it reclaims it and goes
on with the run it never stopped (`welcome.reclaimed`). Rows of an older orchestrator have none:
their requeued executions wait for any agent, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("executions", sa.Column("previous_agent_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("previous_agent_id")

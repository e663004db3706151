"""an SLA target per workflow

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 22:00:00.000000

`workflows.sla_seconds` is how long one execution of the workflow may take, from its start to
its end, before the dashboard counts it as a breach. NULL: no target.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_column("sla_seconds")

"""the tokens and cost of the AI routes, per organisation

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:05:00.000000

`POST /ai/flows` and `POST /executions/{id}/diagnose` ask a language model; each request stores
one `ai_usage` row (feature, model, attempts, input and output tokens, cost in USD at the price
table of the time, outcome), read back summed by `GET /ai/usage`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ai_usage",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("feature", sa.String(length=30), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=12, scale=6, asdecimal=False), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_ai_usage_org_id_organisations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ai_usage"),
    )
    op.create_index("ix_ai_usage_org_id", "ai_usage", ["org_id"])
    op.create_index("ix_ai_usage_org_id_created_at", "ai_usage", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_ai_usage_org_id_created_at", table_name="ai_usage")
    op.drop_index("ix_ai_usage_org_id", table_name="ai_usage")
    op.drop_table("ai_usage")

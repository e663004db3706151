"""invitations, lockouts scoped per organisation and per account + source, instance admins

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 09:00:00.000000

Membership of an existing user now needs that user's consent: `invitations` holds an
organisation's offer to an e-mail address until its holder accepts or declines it. Failed logins
move from `users.failed_logins` / `users.locked_until`, which one organisation's policy set for
every organisation, to `login_lockouts`, keyed by the e-mail address as typed and a scope: the
organisation the login is for, or the instance's limit per account and source. Counts in flight
are dropped with the old columns: at worst an attacker gets one threshold of guesses more.
`users.is_instance_admin` marks who may create organisations and accounts; `users.home_org_id`
the organisation that created an account (for existing ones, that of their first membership),
the only one that may rename it: asking another would tell it the account is shared.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("is_instance_admin", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("users", sa.Column("home_org_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE users SET home_org_id = (SELECT m.org_id FROM memberships m WHERE m.user_id = users.id "
        "ORDER BY m.created_at, m.id LIMIT 1)"
    )
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+, PostgreSQL): a batch copy of `users` would
    # drop and rebuild a table that every other identity table refers to.
    op.execute("ALTER TABLE users DROP COLUMN failed_logins")
    op.execute("ALTER TABLE users DROP COLUMN locked_until")
    op.create_table(
        "invitations",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_invitations_invited_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_invitations_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["roles.id"], name=op.f("fk_invitations_role_id_roles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )
    op.create_index(op.f("ix_invitations_email"), "invitations", ["email"])
    op.create_index(op.f("ix_invitations_org_id"), "invitations", ["org_id"])
    op.create_table(
        "login_lockouts",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_lockouts")),
        sa.UniqueConstraint("email", "scope", name=op.f("uq_login_lockouts_email")),
    )


def downgrade() -> None:
    op.drop_table("login_lockouts")
    op.drop_index(op.f("ix_invitations_org_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_email"), table_name="invitations")
    op.drop_table("invitations")
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False))
    op.execute("ALTER TABLE users DROP COLUMN home_org_id")
    op.execute("ALTER TABLE users DROP COLUMN is_instance_admin")

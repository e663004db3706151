"""credential access control, credentials used by executions, keyed audit chain

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:00:00.000000

- `credentials.access`: who may use a credential (roles, workflow scope). Credentials stored
  before this revision are given `roles: ["*"]` and no workflow scope, which is what they
  allowed until now; an operator narrows them (docs/security.md, "Credentials").
- `executions.credentials`: the names of the credentials an execution's version reads.
- `audit_log.key_id`: the audit key (HMAC-SHA-256, derived from the master key) that sealed an
  entry; NULL for entries written before this revision, sealed with plain SHA-256.
- `audit_heads.keyed_from`: the switch point. Entries of the chain numbered below it are the
  unkeyed ones written before this revision; from it on every entry must be keyed. Chains that
  exist now switch at their next entry; chains created later are keyed from entry 1. Columns
  are added, not rebuilt, so the append-only triggers of migration 0005 stay in place. Every
  organisation without a chain head gets an empty one: from now on a missing head is reported.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0005"  # credentials and audit_heads (another branch of the history)

_UNRESTRICTED = {"roles": ["*"], "workflows": [], "categories": [], "tags": []}


def upgrade() -> None:
    op.add_column("credentials", sa.Column("access", sa.JSON(), nullable=True))
    credentials = sa.table("credentials", sa.column("access", sa.JSON()))
    op.execute(credentials.update().values(access=_UNRESTRICTED))
    op.add_column("executions", sa.Column("credentials", sa.JSON(), nullable=True))
    op.add_column("audit_log", sa.Column("key_id", sa.String(16), nullable=True))
    op.add_column("audit_heads", sa.Column("keyed_from", sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_heads SET keyed_from = seq + 1")
    # Verification expects every organisation's chain to have a head (a chain deleted with its
    # head is reported); organisations an older release created without any entry get an empty one.
    bind = op.get_bind()
    heads = {str(chain) for chain in bind.execute(sa.text("SELECT chain FROM audit_heads")).scalars()}
    empty = [
        {"chain": str(uuid.UUID(str(org_id))), "seq": 0, "hash": "0" * 64, "keyed_from": 1}
        for org_id in bind.execute(sa.text("SELECT id FROM organisations")).scalars()
    ]
    empty = [row for row in empty if row["chain"] not in heads]
    if empty:
        table = sa.table(
            "audit_heads",
            sa.column("chain", sa.String()),
            sa.column("seq", sa.BigInteger()),
            sa.column("hash", sa.String()),
            sa.column("keyed_from", sa.BigInteger()),
        )
        op.bulk_insert(table, empty)


def downgrade() -> None:
    for table, column in (
        ("audit_heads", "keyed_from"),
        ("audit_log", "key_id"),
        ("executions", "credentials"),
        ("credentials", "access"),
    ):
        op.drop_column(table, column)

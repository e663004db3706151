"""vault (data keys, credentials) and audit hardening (chain heads, append-only triggers)

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000

The audit log becomes append-only in the database itself: triggers refuse UPDATE and DELETE on
`audit_log` (and TRUNCATE on PostgreSQL), and a chain's head may only move forward. A later
migration that rebuilds `audit_log` on SQLite (batch mode copies the table) must create the
triggers again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "audit_log is append-only"
FORWARD_ONLY = "audit_heads only move forward"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END",
    f"CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads "
    f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}'); END",
    f"CREATE TRIGGER audit_heads_forward BEFORE UPDATE ON audit_heads "
    f"WHEN NEW.seq < OLD.seq OR NEW.chain <> OLD.chain "
    f"BEGIN SELECT RAISE(ABORT, '{FORWARD_ONLY}'); END",
]

POSTGRESQL_TRIGGERS = [
    f"""CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege';
END $$""",
    f"""CREATE OR REPLACE FUNCTION audit_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{FORWARD_ONLY}' USING ERRCODE = 'insufficient_privilege';
END $$""",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads "
    "FOR EACH ROW EXECUTE FUNCTION audit_heads_forward_only()",
    "CREATE TRIGGER audit_heads_no_truncate BEFORE TRUNCATE ON audit_heads "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_heads_forward_only()",
    "CREATE TRIGGER audit_heads_forward BEFORE UPDATE ON audit_heads "
    "FOR EACH ROW WHEN (NEW.seq < OLD.seq OR NEW.chain <> OLD.chain) EXECUTE FUNCTION audit_heads_forward_only()",
]


def upgrade() -> None:
    op.create_table(
        "audit_heads",
        sa.Column("chain", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain", name=op.f("pk_audit_heads")),
    )
    # Chains written before this revision: their newest entry becomes the head.
    op.execute(
        "INSERT INTO audit_heads (chain, seq, hash) SELECT a.chain, a.seq, a.hash FROM audit_log a "
        "WHERE a.seq = (SELECT MAX(b.seq) FROM audit_log b WHERE b.chain = a.chain)"
    )
    op.create_table(
        "data_keys",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewrapped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_data_keys_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
        sa.UniqueConstraint("org_id", "version", name=op.f("uq_data_keys_org_id")),
    )
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_keys_master_key_id"), ["master_key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_keys_org_id"), ["org_id"], unique=False)

    op.create_table(
        "credentials",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_version", sa.Integer(), nullable=True),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "data_key_version"], ["data_keys.org_id", "data_keys.version"], name="fk_credentials_data_key"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_credentials_org_id_organisations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credentials_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_credentials_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "uq_credentials_org_id_name_live",
            ["org_id", "name"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE_TRIGGERS, "postgresql": POSTGRESQL_TRIGGERS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, table in (
        ("audit_log_no_update", "audit_log"),
        ("audit_log_no_delete", "audit_log"),
        ("audit_log_no_truncate", "audit_log"),
        ("audit_heads_no_delete", "audit_heads"),
        ("audit_heads_no_truncate", "audit_heads"),
        ("audit_heads_forward", "audit_heads"),
    ):
        op.execute(
            f"DROP TRIGGER IF EXISTS {name} ON {table}" if dialect == "postgresql" else f"DROP TRIGGER IF EXISTS {name}"
        )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
        op.execute("DROP FUNCTION IF EXISTS audit_heads_forward_only()")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("uq_credentials_org_id_name_live")
        batch_op.drop_index(batch_op.f("ix_credentials_org_id"))
        batch_op.drop_index(batch_op.f("ix_credentials_kind"))

    op.drop_table("credentials")
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_keys_org_id"))
        batch_op.drop_index(batch_op.f("ix_data_keys_master_key_id"))

    op.drop_table("data_keys")
    op.drop_table("audit_heads")

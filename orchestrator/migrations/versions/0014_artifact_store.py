"""artifact versions and retention

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-07 13:10:00.000000

Artifacts keep their workflow (copied from the execution, so lists by workflow and versions need
no join) and a `version`: files a workflow's executions keep under the same name are numbered
1, 2, … per (organisation, workflow, name), unique. Existing rows are numbered by creation time.
`ix_artifacts_org_created` serves lists by date and the purge of old files.

`artifact_retention` holds an organisation's rule (`workflow_key` "") and per-workflow rules
overriding it: files older than `days`, and versions of a name beyond the newest `keep_last`, are
purged by the orchestrator's `ArtifactPurger`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NUMBER = """
UPDATE artifacts SET version = (
    SELECT count(*) FROM artifacts AS earlier
    WHERE earlier.org_id = artifacts.org_id AND earlier.workflow_id = artifacts.workflow_id
      AND earlier.name = artifacts.name
      AND (earlier.created_at < artifacts.created_at
           OR (earlier.created_at = artifacts.created_at AND earlier.id <= artifacts.id))
)
"""


def upgrade() -> None:
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("workflow_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.execute(
        "UPDATE artifacts SET workflow_id = "
        "(SELECT executions.workflow_id FROM executions WHERE executions.id = artifacts.execution_id)"
    )
    op.execute(_NUMBER)
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.alter_column("workflow_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column("version", existing_type=sa.Integer(), server_default=None)
        batch_op.create_unique_constraint(
            "uq_artifacts_workflow_name_version", ["org_id", "workflow_id", "name", "version"]
        )
        batch_op.create_index("ix_artifacts_org_created", ["org_id", "created_at"], unique=False)
    op.create_table(
        "artifact_retention",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_id", sa.Uuid(), nullable=True),
        sa.Column("workflow_key", sa.String(length=36), nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("keep_last", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name="fk_artifact_retention_org_id_organisations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_artifact_retention"),
        sa.UniqueConstraint("org_id", "workflow_key", name="uq_artifact_retention_scope"),
    )
    op.create_index("ix_artifact_retention_org_id", "artifact_retention", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_artifact_retention_org_id", table_name="artifact_retention")
    op.drop_table("artifact_retention")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index("ix_artifacts_org_created")
        batch_op.drop_constraint("uq_artifacts_workflow_name_version", type_="unique")
        batch_op.drop_column("version")
        batch_op.drop_column("workflow_id")

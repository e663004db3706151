"""Storage models. Importing this package registers every table on `Base.metadata`.

Each module holds one area; import a model from its module (`orchestrator.models.workflows`).
The identity and audit models are re-exported here because every area uses them.
"""

from orchestrator.models import agents, ai, executions, triggers, vault, workflows  # noqa: F401 - registers their tables
from orchestrator.models.audit import AuditEntry
from orchestrator.models.identity import (
    AuthSession,
    Invitation,
    LoginLockout,
    Membership,
    Organisation,
    PasswordHistory,
    RecoveryCode,
    RefreshToken,
    Role,
    User,
)

__all__ = [
    "AuditEntry",
    "AuthSession",
    "Invitation",
    "LoginLockout",
    "Membership",
    "Organisation",
    "PasswordHistory",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "User",
]

"""Storage models. Importing this package registers every table on `Base.metadata`."""

from orchestrator.models.audit import AuditEntry
from orchestrator.models.identity import (
    AuthSession,
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
    "Membership",
    "Organisation",
    "PasswordHistory",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "User",
]

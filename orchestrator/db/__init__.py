"""Storage: the declarative base, the async engine and session factory, migrations."""

from orchestrator.db.base import Base, SoftDeleteMixin, TenantMixin, TimestampMixin, UuidMixin, utcnow
from orchestrator.db.session import Database

__all__ = ["Base", "Database", "SoftDeleteMixin", "TenantMixin", "TimestampMixin", "UuidMixin", "utcnow"]

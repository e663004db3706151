"""What the AI routes cost: one row per request to the model (flow builder, failure diagnosis)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from orchestrator.db.base import Base, TenantMixin, UuidMixin, utcnow


class AiUsage(UuidMixin, TenantMixin, Base):
    """Tokens one AI request used, summed over its attempts, and their price when it was made."""

    __tablename__ = "ai_usage"
    __table_args__ = (Index("ix_ai_usage_org_id_created_at", "org_id", "created_at"),)

    feature: Mapped[str] = mapped_column(String(30))
    model: Mapped[str] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer)
    output_tokens: Mapped[int] = mapped_column(Integer)
    cost_usd: Mapped[float] = mapped_column(Numeric(12, 6, asdecimal=False))
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

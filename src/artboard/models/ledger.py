"""The cost ledger: one row per charge a provider made for a job. Spending figures and budgets read it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from artboard.models.base import Base, id_column, timestamp_column


class CostEntry(Base):
    __tablename__ = "cost_entries"
    __table_args__ = (Index("ix_cost_entries_owner_created", "owner_id", "created"),)

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The job that was charged; kept as a plain id so the charge outlives the job's row.
    job_id: Mapped[str] = mapped_column(String(15), unique=True)
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(100))
    units: Mapped[int] = mapped_column(Integer)  # images made
    unit_price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    created: Mapped[datetime] = timestamp_column()

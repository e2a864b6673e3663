"""Spending, read from the one cost ledger every provider writes to: seed 001's figures and monthly budgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.errors import BudgetExceeded
from artboard.jobs import repository as jobs
from artboard.library import repository
from artboard.models.base import utcnow

RECENT = timedelta(days=30)


@dataclass(frozen=True)
class SpendingStats:
    total_spent: float
    total_images: int
    recent_spending: float  # the last 30 days
    average_cost: float  # per image


def month_start(now: datetime) -> datetime:
    """Budgets run by calendar month in UTC."""
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def usd(amount: float) -> str:
    """$0.003, $1.50, $12.00: always the cents, and a sub-cent price as it is (rounding would hide it)."""
    whole, _, cents = f"{amount:.4f}".rstrip("0").partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


class Spending:
    def __init__(self, default_monthly_budget: float) -> None:
        self._default_budget = default_monthly_budget  # 0: no budget

    async def charge(
        self, db: AsyncSession, owner_id: str, job_id: str, provider: str, model: str, units: int, unit_price: float
    ) -> float:
        """Record what a job cost, in the transaction that finishes it; the amount charged."""
        amount = round(units * unit_price, 6)
        await repository.add_charge(
            db,
            {
                "owner_id": owner_id,
                "job_id": job_id,
                "provider": provider,
                "model": model,
                "units": units,
                "unit_price": unit_price,
                "amount": amount,
            },
        )
        return amount

    async def check_budget(self, db: AsyncSession, owner_id: str, adding: float, own_budget: float | None) -> None:
        """Refuse a paid job (402) when this month's charges, the estimates of the user's jobs still waiting or
        running and this one's (``adding``) would pass the user's monthly budget (``own_budget``, read by the
        caller; None: the server's). The caller holds the user's submit lock (``jobs.repository.hold_submits``),
        so two submits cannot both fit the same room."""
        budget = self._default_budget if own_budget is None else own_budget
        if budget <= 0 or adding <= 0:
            return
        spent, _ = await repository.spending_totals(db, owner_id, since=month_start(utcnow()))
        pending = await jobs.pending_cost(db, owner_id)
        if spent + pending + adding > budget + 1e-9:
            raise BudgetExceeded(
                f"This job (about {usd(adding)}) would pass your monthly budget of {usd(budget)}: "
                f"{usd(spent)} spent this month and {usd(pending)} in jobs not yet finished."
            )

    async def stats(self, db: AsyncSession, owner_id: str) -> SpendingStats:
        """Seed 001's figures for one user, all from the ledger."""
        total, images = await repository.spending_totals(db, owner_id)
        recent, _ = await repository.spending_totals(db, owner_id, since=utcnow() - RECENT)
        return SpendingStats(
            total_spent=round(total, 6),
            total_images=images,
            recent_spending=round(recent, 6),
            average_cost=round(total / images, 6) if images else 0.0,
        )

"""Seed 001's financial tracking: what the caller has spent, from the cost ledger."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, SpendingDep
from artboard.library.schemas import SpendingStatsOut
from artboard.openapi import errors

router = APIRouter(tags=["spending"], responses=errors(401))


@router.get("/api/custom/financial/stats", response_model=SpendingStatsOut)
async def financial_stats(user: CurrentUser, db: Db, spending: SpendingDep) -> SpendingStatsOut:
    """What you have spent: in all, in the last 30 days, the images it paid for and the average per image."""
    return SpendingStatsOut(**asdict(await spending.stats(db, user.id)))

"""Health and liveness routes (seed 000 and 004 `/health`, seed 003 `/api/health/status`, seed 001 test)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from artboard.deps import HealthDep

router = APIRouter(tags=["system"])


@router.get("/health", responses={503: {"description": "The database is unreachable: the same report, `degraded`."}})
async def health(health: HealthDep) -> JSONResponse:
    """Service status, database reachability and system metrics (read at most once a second);
    503 when the database is down."""
    report = await health.report()
    return JSONResponse(report, status_code=200 if report["database"]["ok"] else 503)


@router.get("/api/health/status")
async def health_status() -> dict[str, str]:
    """200 while the server runs."""
    return {"status": "ok"}


@router.get("/api/custom/test")
async def custom_test() -> dict[str, str]:
    """Route check that needs no sign-in."""
    return {"status": "ok", "message": "Custom routes are working."}

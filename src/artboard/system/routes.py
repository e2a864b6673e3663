"""Health and liveness routes (seed 000 and 004 `/health`, seed 003 `/api/health/status`, seed 001 test)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from artboard import __version__
from artboard.system.service import database_health, system_metrics

router = APIRouter(tags=["system"])


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Service status, database reachability and system metrics; 503 when the database is down."""
    state = request.app.state
    database = await database_health(state.engine)
    body: dict[str, Any] = {
        "status": "ok" if database["ok"] else "degraded",
        "version": __version__,
        "uptime_s": round(time.monotonic() - state.started_at, 1),
        "database": database,
        "system": system_metrics(str(state.settings.data_dir)),
    }
    return JSONResponse(body, status_code=200 if database["ok"] else 503)


@router.get("/api/health/status")
async def health_status() -> dict[str, str]:
    """200 while the server runs."""
    return {"status": "ok"}


@router.get("/api/custom/test")
async def custom_test() -> dict[str, str]:
    """Route check that needs no sign-in."""
    return {"status": "ok", "message": "Custom routes are working."}

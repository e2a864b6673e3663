"""Health and liveness routes (seed 000 and 004 `/health`, seed 003 `/api/health/status`, seed 001 test)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from artboard import __version__
from artboard.deps import ResourcesDep
from artboard.system.service import system_metrics

router = APIRouter(tags=["system"])


@router.get("/health")
async def health(resources: ResourcesDep) -> JSONResponse:
    """Service status, database reachability and system metrics (each read at most once a second);
    503 when the database is down."""
    database = await resources.health.check()
    body: dict[str, Any] = {
        "status": "ok" if database["ok"] else "degraded",
        "version": __version__,
        "uptime_s": round(time.monotonic() - resources.started_at, 1),
        "database": database,
        "system": system_metrics(str(resources.settings.data_dir)),
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

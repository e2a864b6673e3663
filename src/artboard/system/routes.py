"""Health and liveness routes (seed 000 and 004 `/health`, seed 003 `/api/health/status`, seed 001 test)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from artboard.deps import resources_of
from artboard.kit.plain_route import PlainRoute

router = APIRouter(tags=["system"])


async def health(request: Request) -> Response:
    """Service status, database reachability and system metrics (the report is at most a second old);
    503 when the database is down."""
    report = await resources_of(request).health.report()
    return Response(report.body, status_code=report.status_code, media_type="application/json")


# A plain route (no dependency solving): load balancers and monitors call it several times a second.
router.add_api_route(
    "/health",
    health,
    methods=["GET"],
    route_class_override=PlainRoute,
    responses={503: {"description": "The database is unreachable: the same report, `degraded`."}},
)


@router.get("/api/health/status")
async def health_status() -> dict[str, str]:
    """200 while the server runs."""
    return {"status": "ok"}


@router.get("/api/custom/test")
async def custom_test() -> dict[str, str]:
    """Route check that needs no sign-in."""
    return {"status": "ok", "message": "Custom routes are working."}

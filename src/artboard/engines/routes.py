"""Seed 001's model list and status, over the job system's model catalog."""

from __future__ import annotations

from fastapi import APIRouter

from artboard.auth.deps import CurrentUser
from artboard.deps import JobsDep, VaultDep
from artboard.engines.schemas import ModelOut, ModelSummary, Services, SessionCountsOut, StatusOut, model_out
from artboard.openapi import errors

router = APIRouter(tags=["models"])
ENCRYPTION = "AES-256-GCM with PBKDF2"  # as seed 001 reports it


@router.get(
    "/api/custom/generate/models",
    response_model=dict[str, ModelOut],
    response_model_exclude_none=True,
    responses=errors(401),
)
async def list_models(_user: CurrentUser, jobs: JobsDep) -> dict[str, ModelOut]:
    """Every model by name: display name, description, engine, cost per image and the parameter schema that
    checks each request."""
    return {model.name: model_out(model) for model in jobs.catalog.models}


@router.get("/api/custom/status", response_model=StatusOut)
async def status(jobs: JobsDep, vault: VaultDep) -> StatusOut:
    """Service status, the vault's encryption and live key session counts, and the models; no sign-in needed."""
    counts = await vault.session_counts()
    return StatusOut(
        services=Services(encryption=ENCRYPTION, sessions=SessionCountsOut(active=counts.active, total=counts.total)),
        available_models={
            m.name: ModelSummary(name=m.name, display_name=m.display_name, cost_per_image=m.cost_per_image)
            for m in jobs.catalog.models
        },
    )

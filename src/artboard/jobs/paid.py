"""What a paid model needs around its job: a key to run with (or, for the user's own GPU server, its address and
signing secret), sealed onto the job's row, room in the user's budget before it is queued, and a line in the
cost ledger when it succeeds."""

from __future__ import annotations

from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.auth import repository as accounts
from artboard.auth.gpu_signing import GpuSigning
from artboard.engines.base import EngineResult, ModelInfo
from artboard.engines.gpu_endpoint import PROVIDER as GPU_ENDPOINT
from artboard.engines.gpu_endpoint import GpuTarget
from artboard.errors import ValidationFailed
from artboard.jobs.schemas import JobView, RunningJob
from artboard.library.spending import Spending
from artboard.models import Job
from artboard.vault.credentials import JobKeys, ProviderKeys
from artboard.vault.service import Provider


class PaidJobs:
    def __init__(self, keys: ProviderKeys, job_keys: JobKeys, gpu_signing: GpuSigning, spending: Spending) -> None:
        self._keys = keys
        self._job_keys = job_keys
        self._gpu_signing = gpu_signing
        self.spending = spending

    async def prepare(
        self, db: AsyncSession, job: Job, model: ModelInfo, session_id: str | None, own_budget: float | None
    ) -> None:
        """Before ``job`` is queued: seal the key it runs with onto it (401 when there is none; 400 for a GPU
        model when the user has registered no GPU server) and check the budget (402; ``own_budget`` is the
        user's, None for the server's), counting jobs not yet finished; the job keeps its estimate in ``cost``
        until it ends."""
        if model.provider is not None:
            key = await self._credential(db, job.owner_id, model.provider, session_id)
            job.sealed_key = self._job_keys.seal(job.id, key)
        estimate = model.estimate(job.input.get("parameters", {}))
        if estimate > 0:
            await self.spending.check_budget(db, job.owner_id, estimate, own_budget)
            job.cost = estimate

    async def _credential(self, db: AsyncSession, owner_id: str, provider: str, session_id: str | None) -> str:
        """What the engine calls its provider with: an API key, or the user's GPU endpoint and signing secret
        (read now: engines never touch the database)."""
        if provider != GPU_ENDPOINT:
            return await self._keys.key_for(owner_id, cast(Provider, provider), session_id)
        user = await accounts.user_by_id(db, owner_id)
        secret = self._gpu_signing.secret(user) if user is not None else None
        if user is None or not user.gpu_endpoint or secret is None:
            raise ValidationFailed(
                "This model runs on your own GPU server: register your GPU server with PUT /auth/gpu-endpoint "
                "first (it answers the secret every call to it is signed with)."
            )
        return GpuTarget(user.gpu_endpoint, secret).credential()

    def key(self, job: RunningJob) -> str | None:
        """The key ``job`` runs with, opened for one run; None for a model that needs none."""
        return self._job_keys.open(job.id, job.sealed_key) if job.sealed_key else None

    async def charge(self, db: AsyncSession, job: JobView, model: ModelInfo, result: EngineResult) -> float:
        """Write what the job cost to the ledger (in the transaction that finishes it); the amount."""
        if result.cost <= 0:
            return 0.0
        units = max(1, len(result.images))
        return await self.spending.charge(
            db, job.owner_id, job.id, model.provider or model.engine, model.name, units, result.cost / units
        )

"""Seed 004's sketches, over the job queue.

A sketch *is* a sketch job: ``sketch_id`` and ``task_id`` are both the job's id (so a client can read the sketch
right after creating it, and `/api/jobs/{id}`, the events and the sketch routes all speak of one thing). Its style
is the job's model (``sketch:<style>``), its method a parameter, and its drawing the gallery image the job made,
with lineage. Nothing is stored twice. Deleting a sketch cancels its job if it still runs, deletes the drawing
and its files, and forgets the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.engines.sketch_engine import model_name
from artboard.errors import NotFound
from artboard.jobs import repository
from artboard.jobs.service import Jobs, Submitted
from artboard.kit.pagination import PageParams
from artboard.library.service import Library
from artboard.models import Blob, Image, Job
from artboard.models.job import FINISHED
from artboard.uploads.service import DirectUploads

SKETCH_KIND = "sketch"


@dataclass(frozen=True)
class Sketch:
    job: Job
    output: tuple[Image, Blob] | None  # the drawing, once the job has succeeded (None if deleted since)

    @property
    def style(self) -> str:
        """As seed 004 names styles: ``PENCIL``."""
        return self.job.model.split(":", 1)[-1].upper()

    @property
    def parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = self.job.input.get("parameters", {})
        return parameters

    @property
    def source_image_id(self) -> str | None:
        source: str | None = self.job.input.get("image_id")
        return source


class Sketches:
    def __init__(self, jobs: Jobs, uploads: DirectUploads) -> None:
        self._jobs = jobs
        self._uploads = uploads

    @property
    def _library(self) -> Library:
        return self._uploads.library

    async def create(
        self,
        db: AsyncSession,
        owner_id: str,
        *,
        style: str,
        method: str,
        image_id: str | None = None,
        key: str | None = None,
        idempotency_key: str | None = None,
    ) -> Submitted:
        """Queue a sketch of one of the user's images, named by id or by the key of a confirmed direct upload."""
        if key is not None:
            image, _ = await self._uploads.confirmed_image(db, owner_id, key)
            image_id = image.id
        return await self._jobs.submit(
            db,
            owner_id,
            model_name(style),
            {"method": method},
            source_image_id=image_id,
            idempotency_key=idempotency_key,
        )

    async def get(self, db: AsyncSession, owner_id: str, sketch_id: str) -> Sketch:
        return (await self._with_outputs(db, owner_id, [await self._job(db, owner_id, sketch_id)]))[0]

    async def page(
        self, db: AsyncSession, owner_id: str, page: PageParams, *, status: str | None
    ) -> tuple[list[Sketch], int]:
        """Newest first, optionally of one status only."""
        jobs, total = await self._jobs.page(db, owner_id, page, status=status, kind=SKETCH_KIND)
        return await self._with_outputs(db, owner_id, jobs), total

    async def position(self, db: AsyncSession, sketch: Sketch) -> int | None:
        return await self._jobs.position(db, sketch.job)

    async def delete(self, db: AsyncSession, owner_id: str, sketch_id: str) -> None:
        """Cancel the job if it has not finished, delete its drawing (from the trash too) and files, forget it."""
        job = await self._job(db, owner_id, sketch_id)
        if job.status not in FINISHED:
            await self._jobs.cancel(db, owner_id, job.id)
        await self._library.remove_job_outputs(db, owner_id, job.id)
        await repository.delete_job(db, owner_id, job.id)

    async def _job(self, db: AsyncSession, owner_id: str, sketch_id: str) -> Job:
        job = await repository.job(db, owner_id, sketch_id)
        if job is None or job.kind != SKETCH_KIND:
            raise NotFound("No sketch with this id.")
        return job

    async def _with_outputs(self, db: AsyncSession, owner_id: str, jobs: list[Job]) -> list[Sketch]:
        outputs = await self._library.job_outputs(db, owner_id, [job.id for job in jobs])
        return [Sketch(job, next(iter(outputs[job.id]), None)) for job in jobs]

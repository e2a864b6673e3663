"""Seed 003's image analysis: the upload becomes a gallery image, a job of the vision model describes it, and
OpenAI's answer is kept with the image (``details["openai_response"]``), as seed 003 kept them together.

One analysis spans two transactions, so this service opens its own instead of using the request's: the image
and its job must be committed before a worker can see them, and the answer is written once it has come back.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import transaction
from artboard.engines.openai_vision import ERROR_STATE, MODEL_NAME
from artboard.errors import ExternalFailure, NotFound
from artboard.jobs.service import Jobs
from artboard.library.service import Library
from artboard.models import Job
from artboard.models.job import SUCCEEDED

ANALYSIS_SOURCE = "analysis"


class OpenAIFailed(ExternalFailure):
    """OpenAI failed, could not be reached or did not answer in time: seed 003 answered these with a 500, and
    its clients read that status as "OpenAI failed", so this route keeps it (with the ``external_error`` code)."""

    status = 500


@dataclass(frozen=True)
class Analysis:
    image_id: str
    job_id: str
    # The ChatCompletion, or OpenAI's error object ``{"error": {...}}`` when it refused the request.
    openai_response: dict[str, Any]


class Analyses:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], jobs: Jobs, library: Library, wait_s: float) -> None:
        self._sessions = sessions
        self._jobs = jobs
        self._library = library
        self._wait_s = wait_s

    async def analyze(self, owner_id: str, data: bytes, *, title: str, session_id: str | None) -> Analysis:
        """Store the image (400 if it is not one), queue its analysis with the user's or the operator's key (401
        without one), wait for OpenAI's answer and keep it with the image; 500 (seed 003's status) when OpenAI
        failed or is late."""
        async with transaction(self._sessions) as db:
            image, _ = await self._library.add_image(db, owner_id, data, title=title, source=ANALYSIS_SOURCE)
            submitted = await self._jobs.submit(
                db, owner_id, MODEL_NAME, {}, source_image_id=image.id, session_id=session_id
            )
        job = await self._jobs.wait(owner_id, submitted.job.id, self._wait_s)
        if job is None:
            raise OpenAIFailed(
                f"The analysis did not finish within {self._wait_s:g} s; it goes on as /api/jobs/{submitted.job.id}.",
                detail={"image_id": image.id, "job_id": submitted.job.id},
            )
        answer = _openai_response(job, image.id)
        with contextlib.suppress(NotFound):  # trashed meanwhile: the answer is still the caller's
            async with transaction(self._sessions) as db:
                kept, _ = await self._library.image(db, owner_id, image.id)
                kept.details = {**kept.details, "openai_response": answer}
        return Analysis(image.id, job.id, answer)


def _openai_response(job: Job, image_id: str) -> dict[str, Any]:
    """What OpenAI answered: the completion, or the error object of a refusal; a failure without an answer
    (OpenAI unreachable or failing after retries, the job canceled) is seed 003's 500."""
    if job.status == SUCCEEDED:
        completion: dict[str, Any] = (job.result or {})["data"]["openai_response"]
        return completion
    refused: dict[str, Any] | None = (job.provider_state or {}).get(ERROR_STATE)
    if refused is not None:
        return refused
    raise OpenAIFailed(
        job.error_message or f"The analysis ended {job.status}.",
        detail={"image_id": image_id, "job_id": job.id, "status": job.status, "code": job.error_code},
    )

"""Seed 001's generation route: a job of a provider model that the request waits for, as the seed did.

The job is an ordinary one: it shows on the jobs routes and on `/ws` while it runs, and can be canceled
there. A request that gives up waiting (a proxy's timeout, a closed tab) loses nothing: the job goes on
and its images land in the gallery.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request, Response

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, JobsDep, SettingsDep
from artboard.jobs.replies import SubmitOptions, SubmitOptionsDep, SubmitReply
from artboard.jobs.schemas import Generated, GeneratedImage, GenerateImage, JobOut, job_json
from artboard.jobs.service import Jobs, Submitted
from artboard.library.replies import base_url, file_url, thumbnail_path
from artboard.models import Job
from artboard.models.job import CANCELED, SUCCEEDED
from artboard.openapi import BODY, PAID, errors

router = APIRouter(tags=["models"], responses=errors(401))


class GenerationReply(SubmitReply):
    """200 with the images once the job succeeded; 502 with the provider's message if it failed; 202 with
    the job when it is still running after the provider's own deadline."""

    def __init__(self, jobs: Jobs, submitted: Submitted, options: SubmitOptions, base: str) -> None:
        self._base = base
        super().__init__(jobs, submitted, options, job_json)

    def finished(self, job: Job) -> tuple[int, Any]:
        if job.status == SUCCEEDED:
            images = [
                GeneratedImage(
                    id=image_id,
                    url=file_url(self._base, image_id, "original"),
                    thumbnail_url=self._base + thumbnail_path(image_id),
                )
                for image_id in (job.result or {}).get("images", [])
            ]
            return 200, Generated(images=images, cost=job.cost, model=job.model, job_id=job.id).model_dump(mode="json")
        detail = {"job_id": job.id, "status": job.status, "code": job.error_code}
        if job.status == CANCELED:
            return 409, {"error": "conflict", "message": "The generation was canceled.", "detail": detail}
        message = job.error_message or "The generation failed."
        return 502, {"error": "external_error", "message": message, "detail": detail}


@router.post(
    "/api/custom/generate/image",
    response_model=Generated,
    responses={
        202: {"model": JobOut, "description": "Still running after the provider's deadline: follow the job."},
        **errors(
            *BODY,
            *PAID,
            404,
            409,
            429,
            502,
            notes={
                404: "No folder with this `collection_id` is yours.",
                409: "Canceled while running, or the Idempotency-Key was used for another request.",
                502: "The provider failed or refused: its message, and the job in `detail`.",
            },
        ),
    },
)
async def generate_image(
    body: GenerateImage,
    request: Request,
    user: CurrentUser,
    db: Db,
    jobs: JobsDep,
    settings: SettingsDep,
    options: SubmitOptionsDep,
) -> Response:
    """Generate images with a provider model (your key from the key session in `X-Session-ID`); waits for
    them and answers their gallery ids and URLs, with the cost."""
    submitted = await jobs.submit(
        db,
        user.id,
        body.model,
        {**body.parameters, "prompt": body.prompt},
        folder_id=body.collection_id,
        idempotency_key=options.idempotency_key,
        session_id=options.session_id,
    )
    waiting = dataclasses.replace(options, wait_s=int(settings.fal_timeout_s) + 5)
    return GenerationReply(jobs, submitted, waiting, base_url(request, settings))

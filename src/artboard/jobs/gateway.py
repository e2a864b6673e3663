"""Seed 000's gateway routes: send a message (a job) and poll for its image, as that seed's clients do.

While the job is queued or running, ``get_image`` answers 202 with the JSON string ``"Message not ready yet"``,
exactly as seed 000 did; once it succeeded, the image's bytes; once it failed, was canceled or ran out of time,
409 with the job's error in the envelope (polling again cannot help; ``POST /api/jobs/{id}/retry`` can).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, GatewayDep, JobsDep
from artboard.jobs.gateway_service import NOT_READY, Gateway, Message
from artboard.jobs.replies import SubmitOptionsDep, SubmitReply, finished_in_time
from artboard.jobs.schemas import GetImage, MessageSent, SendMessage
from artboard.kit.jsonresponse import SafeJSONResponse
from artboard.library.replies import file_response
from artboard.models import Job
from artboard.models.base import ID_PATTERN
from artboard.openapi import BODY, PAID, errors, image_bytes

router = APIRouter(tags=["gateway"], responses=errors(401))
_IMAGE_REPLIES: dict[int | str, dict[str, Any]] = {
    **image_bytes("The image's bytes, once the job has succeeded (its own content type).", etag=True),
    202: {
        "description": f'Still queued or running: the JSON string `"{NOT_READY}"`.',
        "content": {"application/json": {"schema": {"type": "string", "enum": [NOT_READY]}}},
    },
    **errors(
        404,
        409,
        notes={
            404: "No message with this id is yours (or its image was deleted).",
            409: "The job failed, was canceled or ran out of time: `detail` holds its `status` and `error`.",
        },
    ),
}


def _sent(job: Job, _queue_position: int | None) -> dict[str, Any]:
    return MessageSent(message_id=job.id).model_dump(mode="json")


@router.post(
    "/api/send_message",
    response_model=MessageSent,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **finished_in_time(MessageSent),
        **errors(
            *BODY,
            *PAID,
            403,
            404,
            409,
            429,
            notes={
                404: "No image with this `uuid` is yours.",
                409: "The Idempotency-Key was used for another request.",
                429: "Too many of your jobs are waiting.",
            },
        ),
    },
)
async def send_message(
    body: SendMessage, user: CurrentUser, db: Db, gateway: GatewayDep, jobs: JobsDep, options: SubmitOptionsDep
) -> Response:
    """Queue a job of `model_type` on your image `uuid`; answers its `message_id` for `/api/get_image`."""
    message = Message(
        image_id=body.uuid,
        model_type=body.model_type,
        prompt=body.prompt,
        prompt_guidance=body.prompt_guidance,
        strength=body.strength,
    )
    submitted = await gateway.send(
        db, user.id, message, idempotency_key=options.idempotency_key, session_id=options.session_id
    )
    return SubmitReply(jobs, submitted, options, _sent)


@router.post("/api/get_image", response_class=Response, responses={**_IMAGE_REPLIES, **errors(*BODY, 403)})
async def get_image(body: GetImage, request: Request, user: CurrentUser, db: Db, gateway: GatewayDep) -> Response:
    """The message's image once made; `"Message not ready yet"` (202) until then."""
    return await _image_reply(gateway, db, user.id, body.message_id, request)


@router.get("/api/get_image", response_class=Response, responses={**_IMAGE_REPLIES, **errors(422)})
async def get_image_by_query(
    message_id: Annotated[str, Query(pattern=f"^{ID_PATTERN}$")],
    request: Request,
    user: CurrentUser,
    db: Db,
    gateway: GatewayDep,
) -> Response:
    """The message's image once made; `"Message not ready yet"` (202) until then."""
    return await _image_reply(gateway, db, user.id, message_id, request)


async def _image_reply(gateway: Gateway, db: Db, owner_id: str, message_id: str, request: Request) -> Response:
    content = await gateway.image(db, owner_id, message_id)
    if content is None:
        return SafeJSONResponse(NOT_READY, status_code=status.HTTP_202_ACCEPTED)
    return file_response(content, request)

"""Seed 000's gateway: a message is a job, and its ``message_id`` the job's id.

``model_type`` names a catalog model, optionally with a method after a last colon (``sketch:pencil:advanced``).
The message's fields become the model's parameters where the model takes them (the sketch models keep
``prompt`` and ``prompt_guidance`` with the job for its lineage without using them); ``uuid`` is the source image.
``get_image`` answers the image once the job has succeeded, nothing while it is queued or running, and a
conflict naming the job's error once it has failed, been canceled or run out of time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.engines.base import ModelInfo
from artboard.errors import Conflict, InvalidField, NotFound, ValidationFailed
from artboard.jobs.service import Jobs, Submitted
from artboard.library.service import FileContent, Library
from artboard.models.job import CANCELED, QUEUED, RUNNING, SUCCEEDED, TIMED_OUT

# What seed 000's get_image answered while the image was being made; its clients compare the reply to it.
NOT_READY = "Message not ready yet"
_ENDED = {CANCELED: "was canceled", TIMED_OUT: "ran out of time"}


@dataclass(frozen=True)
class Message:
    image_id: str
    model_type: str
    prompt: str | None = None
    prompt_guidance: float | None = None
    strength: float | None = None


class Gateway:
    def __init__(self, jobs: Jobs, library: Library) -> None:
        self._jobs = jobs
        self._library = library

    async def send(
        self,
        db: AsyncSession,
        owner_id: str,
        message: Message,
        *,
        idempotency_key: str | None = None,
        session_id: str | None = None,
    ) -> Submitted:
        model, method = self._model(message.model_type)
        fields = {
            "prompt": message.prompt,
            "prompt_guidance": message.prompt_guidance,
            "strength": message.strength,
            "method": method,
        }
        if method is not None:
            if "method" not in model.parameters:
                raise InvalidField("model_type", f"{model.name} has no methods: name the model alone.")
            try:
                model.parameters["method"].check("method", method)
            except ValidationFailed as exc:
                raise InvalidField("model_type", f"after {model.name}:, the {exc.message}") from None
        parameters = {name: value for name, value in fields.items() if value is not None and name in model.parameters}
        return await self._jobs.submit(
            db,
            owner_id,
            model.name,
            parameters,
            source_image_id=message.image_id,
            idempotency_key=idempotency_key,
            session_id=session_id,
        )

    def _model(self, model_type: str) -> tuple[ModelInfo, str | None]:
        """The model ``model_type`` names, and the method after it if one is given."""
        models = {model.name: model for model in self._jobs.catalog.models}
        wanted = model_type.strip().lower()
        if wanted in models:
            return models[wanted], None
        base, _, method = wanted.rpartition(":")
        if base in models and method:
            return models[base], method
        raise InvalidField(
            "model_type", f"choose one of {', '.join(models)}, optionally followed by :<method> (sketch:ink:artistic)."
        )

    async def image(self, db: AsyncSession, owner_id: str, message_id: str) -> FileContent | None:
        """The image the message's job made; None while the job is queued or running."""
        job = await self._jobs.get(db, owner_id, message_id)
        if job.status in (QUEUED, RUNNING):
            return None
        if job.status != SUCCEEDED:
            what, why = _ENDED.get(job.status, "failed"), job.error_message
            raise Conflict(
                f"This message's job {what}: {why}" if why else f"This message's job {what}; no image was made.",
                detail={"status": job.status, "error": {"code": job.error_code or job.status, "message": why or ""}},
            )
        outputs = (await self._library.job_outputs(db, owner_id, [job.id]))[job.id]
        if not outputs:
            raise NotFound("The image this message made has been deleted.")
        return await self._library.blob_file(outputs[0][1], "original")

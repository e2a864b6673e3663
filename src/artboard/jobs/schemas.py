"""Request and response models of the job routes, and the job as every event carries it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from artboard.engines.sketch import METHODS, STYLES
from artboard.kit.body import CleanText, JsonObject
from artboard.library.schemas import ImageOut
from artboard.models.base import ID_PATTERN

Status = Literal["queued", "running", "succeeded", "failed", "canceled", "timed_out"]
EntityId = Annotated[str, StringConstraints(pattern=f"^{ID_PATTERN}$")]
ModelName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class JobError(BaseModel):
    code: str
    message: str


class JobResult(BaseModel):
    images: list[str] = Field(description="Ids of the gallery images the job made (see `/api/images/{id}`).")
    data: dict[str, Any] = Field(default_factory=dict)


class JobOut(BaseModel):
    id: str
    kind: str
    engine: str
    model: str
    status: Status
    progress: float = Field(description="0..1")
    message: str | None
    queue_position: int | None = Field(description="1 for the next job to start; null unless queued.")
    input: dict[str, Any]
    result: JobResult | None
    error: JobError | None
    cost: float
    attempts: int
    priority: int
    retry_of: str | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    updated: datetime


class JobView(Protocol):
    """A job as replies and events show it: a ``Job``, or the row a conditional ``UPDATE … RETURNING`` gave back
    (``jobs.repository.transition``: no ORM object is made for a job that only moves on)."""

    @property
    def id(self) -> str: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def engine(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def progress(self) -> float: ...
    @property
    def message(self) -> str | None: ...
    @property
    def input(self) -> dict[str, Any]: ...
    @property
    def result(self) -> dict[str, Any] | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def cost(self) -> float: ...
    @property
    def attempts(self) -> int: ...
    @property
    def priority(self) -> int: ...
    @property
    def retry_of(self) -> str | None: ...
    @property
    def cancel_requested(self) -> bool: ...
    @property
    def created(self) -> datetime: ...
    @property
    def started(self) -> datetime | None: ...
    @property
    def finished(self) -> datetime | None: ...
    @property
    def updated(self) -> datetime: ...


class RunningJob(JobView, Protocol):
    """A job as a worker claimed it: what running it needs besides what it shows."""

    @property
    def max_attempts(self) -> int: ...
    @property
    def sealed_key(self) -> str | None: ...
    @property
    def provider_state(self) -> dict[str, Any] | None: ...


def job_json(job: JobView, queue_position: int | None = None) -> dict[str, Any]:
    """The job as replies and events show it: ``JobOut`` as JSON, built straight from the job's own row (no model
    is made and nothing validated: every event makes one, and a pydantic model built and dumped per event cost a
    worker more than the statements of its round)."""
    result = job.result
    error = job.error_code
    return {
        "id": job.id,
        "kind": job.kind,
        "engine": job.engine,
        "model": job.model,
        "status": job.status,
        "progress": job.progress,
        "message": job.message,
        "queue_position": queue_position if job.status == "queued" else None,
        "input": job.input,
        "result": None if result is None else {"images": result.get("images", []), "data": result.get("data", {})},
        "error": None if error is None else {"code": error, "message": job.error_message or ""},
        "cost": job.cost,
        "attempts": job.attempts,
        "priority": job.priority,
        "retry_of": job.retry_of,
        "created": _instant(job.created),
        "started": _instant(job.started),
        "finished": _instant(job.finished),
        "updated": _instant(job.updated),
    }


def _instant(moment: datetime | None) -> str | None:
    """A time as pydantic writes one in JSON: ISO 8601, UTC as ``Z``."""
    if moment is None:
        return None
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class JobSubmit(BaseModel):
    """A job of any model in the catalog (`GET /api/custom/generate/models` lists them)."""

    model: ModelName
    image_id: EntityId | None = Field(None, description="The source image, for models that start from one.")
    parameters: JsonObject = Field(default_factory=dict)
    priority: int = Field(0, ge=-10, le=10, description="Higher runs first among the same user's jobs.")


class JobEventOut(BaseModel):
    type: Literal["job.updated"]
    seq: int
    job: JobOut


class QueueCounts(BaseModel):
    counts: dict[str, int]
    oldest_queued_age_s: float | None
    live_workers: int
    paused: bool


# ---- seed 004: sketches (a sketch is a sketch job: sketch_id == task_id == the job's id) ------------------


def _choice(names: tuple[str, ...], field: str) -> AfterValidator:
    """Accept one of ``names`` in any case; give it back spelt as listed."""

    def check(value: str) -> str:
        match = next((name for name in names if name.lower() == value.strip().lower()), None)
        if match is None:
            raise PydanticCustomError(
                "choice", "{field} must be one of {names} (any case)", {"field": field, "names": ", ".join(names)}
            )
        return match

    return AfterValidator(check)


StyleName = Annotated[str, _choice(tuple(style.name for style in STYLES), "style")]
MethodName = Annotated[str, _choice(tuple(method.name for method in METHODS), "method")]
UploadKey = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class SketchCreate(BaseModel):
    """The source (`image_id`: one of your images, or `key`: a direct upload you confirmed), a style, a method."""

    image_id: EntityId | None = None
    key: UploadKey | None = Field(None, validate_default=True, description="From `/api/upload/presigned-url`.")
    style: StyleName = Field(description="PENCIL, CHARCOAL, WATERCOLOR, INK, PASTEL, OIL or ACRYLIC (any case).")
    method: MethodName = Field("basic", description="basic, advanced or artistic (any case).")

    @field_validator("key")
    @classmethod
    def _one_source(cls, key: str | None, info: ValidationInfo) -> str | None:
        if "image_id" in info.data and (key is None) == (info.data["image_id"] is None):
            raise PydanticCustomError("source", "give the source image as image_id or as key (one of them)")
        return key


class SketchCreated(BaseModel):
    sketch_id: str = Field(description="Read it at `/api/sketch/{sketch_id}`; the same id as `task_id`.")
    task_id: str = Field(description="The job's id: `/api/sketch/task/{task_id}`, `/api/jobs/{id}`.")
    status: Status


class SketchOut(BaseModel):
    id: str = Field(description="The sketch's id, which is also its task (job) id.")
    task_id: str
    status: Status
    progress: float = Field(description="0..1")
    message: str | None
    style: str
    method: str
    strength: float
    source_image_id: str | None
    output: ImageOut | None = Field(description="The drawing once done: a gallery image, with its URLs.")
    error: JobError | None
    created: datetime
    updated: datetime
    finished: datetime | None


class SketchTaskOut(BaseModel):
    task_id: str
    status: Status
    progress: float = Field(description="0..1")
    message: str | None
    queue_position: int | None = Field(description="1 for the next job to start; null unless queued.")
    result: ImageOut | None = Field(description="The drawing once done: a gallery image, with its URLs.")
    error: JobError | None


class SketchStyleOut(BaseModel):
    name: str = Field(description="What `style` takes.")
    display_name: str
    description: str
    model: str = Field(description="The catalog model (`POST /api/jobs`, seed 000's `model_type`).")
    preview_url: str = Field(description="A JPEG of a photo drawn in this style, in every method.")


class SketchMethodOut(BaseModel):
    name: str = Field(description="What `method` takes.")
    display_name: str
    description: str


class SketchStylesOut(BaseModel):
    styles: list[SketchStyleOut]
    methods: list[SketchMethodOut]
    preview_url: str = Field(description="A JPEG of one photo drawn in every style and method.")


# ---- seed 000: the gateway (a message is a job: message_id == the job's id) ----------------------------------


class SendMessage(BaseModel):
    """Seed 000's img2img request. Numbers may come as JSON numbers or numeric strings, as seed 000 sent them."""

    prompt: Annotated[str, StringConstraints(max_length=4000), CleanText] | None = Field(
        None, description="Kept with the job; a sketch model does not use it."
    )
    prompt_guidance: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    strength: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, description="1: the effect alone.")
    uuid: EntityId = Field(description="The id of one of your images: the source.")
    model_type: ModelName = Field(description="A catalog model, optionally `:<method>`: `sketch:pencil:advanced`.")


class MessageSent(BaseModel):
    message_id: str = Field(description="Ask `/api/get_image` for the result with it; it is also the job's id.")


class GetImage(BaseModel):
    message_id: EntityId


class GenerateImage(BaseModel):
    """Seed 001's generation request: `parameters` are checked against the model's schema."""

    model: str = Field(max_length=100, description="A model from `GET /api/custom/generate/models`.")
    prompt: str = Field(min_length=1, max_length=4000)
    parameters: dict[str, Any] = Field(default_factory=dict)
    collection_id: str | None = Field(None, max_length=15, description="The folder the images go to.")


class GeneratedImage(BaseModel):
    id: str
    url: str = Field(description="The image, copied into Artboard's storage (FAL's own URLs expire).")
    thumbnail_url: str


class Generated(BaseModel):
    images: list[GeneratedImage]
    cost: float
    model: str
    job_id: str

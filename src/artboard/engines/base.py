"""What every engine is: a set of models, each with a parameter schema, and a ``run`` that turns one job's
validated input into output images, reporting progress and stopping when asked.

Engines know nothing of jobs, queues or the database: the worker hands them a ``JobContext`` and stores
what they return (as gallery images with their lineage) in the transaction that finishes the job.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from artboard.errors import ValidationFailed

ParameterType = Literal["string", "number", "integer", "boolean"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a model: its type, default, allowed options or range, and what it does."""

    type: ParameterType
    description: str
    default: Any = None
    options: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False

    def check(self, name: str, value: Any) -> Any:
        """``value`` as this parameter's type, or a ValidationFailed naming ``name`` and what is allowed."""
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ValidationFailed(f"{name} must be true or false.")
            return value
        if self.type in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValidationFailed(f"{name} must be a number.")
            if self.type == "integer" and value != int(value):
                raise ValidationFailed(f"{name} must be a whole number.")
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise ValidationFailed(f"{name} must be between {self.minimum:g} and {self.maximum:g}.")
            return int(value) if self.type == "integer" else float(value)
        if not isinstance(value, str):
            raise ValidationFailed(f"{name} must be a string.")
        if self.options is not None:
            match = next((option for option in self.options if option.lower() == value.lower()), None)
            if match is None:
                raise ValidationFailed(f"{name} must be one of {', '.join(self.options)}.")
            return match
        return value


@dataclass(frozen=True)
class ModelInfo:
    """A model as the catalog lists it; ``parameters`` validate every request made with it."""

    name: str
    display_name: str
    description: str
    engine: str
    kind: str
    cost_per_image: float
    parameters: dict[str, Parameter] = field(default_factory=dict)
    # The job needs one of the user's images as its source (img2img).
    needs_source: bool = False
    # The provider whose key the job runs with ("fal", "openai"); None for a model that needs no key.
    provider: str | None = None
    # How long one run may take, when the server's TASK_TIMEOUT does not fit (a provider's own deadline).
    timeout_s: float | None = None

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The parameters with defaults filled in; unknown names and bad values are refused, naming the field."""
        unknown = sorted(set(raw) - set(self.parameters))
        if unknown:
            raise ValidationFailed(f"{unknown[0]} is not a parameter of {self.name}.")
        checked: dict[str, Any] = {}
        for name, parameter in self.parameters.items():
            if raw.get(name) is not None:
                checked[name] = parameter.check(name, raw[name])
            elif parameter.required:
                raise ValidationFailed(f"{name} is required for {self.name}.")
            elif parameter.default is not None:
                checked[name] = parameter.default
        return checked

    def estimate(self, parameters: dict[str, Any]) -> float:
        """What a job with these (validated) parameters should cost: the price per image times images asked."""
        return self.cost_per_image * int(parameters.get("num_images", 1))

    def schema(self) -> dict[str, Any]:
        """The parameter schema as the API shows it."""
        return {
            name: {
                key: value
                for key, value in {
                    "type": p.type,
                    "description": p.description,
                    "default": p.default,
                    "options": list(p.options) if p.options else None,
                    "min": p.minimum,
                    "max": p.maximum,
                    "required": p.required or None,
                }.items()
                if value is not None
            }
            for name, p in self.parameters.items()
        }


@dataclass(frozen=True)
class OutputImage:
    data: bytes
    title: str
    details: dict[str, Any] = field(default_factory=dict)  # kept as the gallery image's metadata


@dataclass(frozen=True)
class EngineResult:
    images: list[OutputImage]
    data: dict[str, Any] = field(default_factory=dict)
    cost: float = 0.0


class EngineError(Exception):
    """A job that cannot succeed as asked (``transient=False``) or may on a later attempt (``transient=True``)."""

    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient


class JobCanceled(Exception):
    """Raised by an engine at a checkpoint once the job has been canceled (or has run out of time)."""


@dataclass(frozen=True)
class JobContext:
    """What an engine gets for one job. ``progress`` and ``should_stop`` may be called from any thread."""

    job_id: str
    owner_id: str
    model: ModelInfo
    parameters: dict[str, Any]
    load_source: Callable[[], Awaitable[bytes]]
    progress: Callable[[float, str], None]
    should_stop: Callable[[], bool]
    # The provider key the job was submitted with (``ModelInfo.provider``), opened for this run only.
    credential: str | None
    # What an earlier attempt of this job saved with ``save_state``: a provider engine resumes from it.
    saved_state: dict[str, Any] | None
    # Saves state on the job row and commits before returning: call it right after a provider accepts a paid
    # request, before waiting for it, so a crash can never lead to the request being sent twice.
    save_state: Callable[[dict[str, Any]], Awaitable[None]]


class Engine(Protocol):
    name: str
    models: tuple[ModelInfo, ...]

    async def run(self, context: JobContext) -> EngineResult:
        """Produce the job's output; raise EngineError for a failure, JobCanceled when told to stop."""

    async def close(self) -> None:
        """Release what the engine holds (HTTP connections) when the server stops."""

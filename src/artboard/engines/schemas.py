"""Seed 001's model catalog and status replies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from artboard.engines.base import ModelInfo, ParameterType


class ParameterOut(BaseModel):
    """One parameter as ``ModelInfo.schema()`` gives it: absent keys do not apply to it."""

    type: ParameterType
    description: str
    default: Any = None
    options: list[str] | None = Field(None, description="The only values allowed (any case).")
    min: float | None = None
    max: float | None = None
    required: bool | None = Field(None, description="Present (true) when the parameter must be given.")


class ModelOut(BaseModel):
    name: str
    display_name: str
    description: str
    engine: str = Field(description="The engine that runs it: `sketch`, `fal`, `openai_vision` or `gpu_endpoint`.")
    cost_per_image: float
    needs_source: bool = Field(description="A job of this model starts from one of the user's images.")
    parameters: dict[str, ParameterOut]


def model_out(model: ModelInfo) -> ModelOut:
    return ModelOut(
        name=model.name,
        display_name=model.display_name,
        description=model.description,
        engine=model.engine,
        cost_per_image=model.cost_per_image,
        needs_source=model.needs_source,
        parameters={name: ParameterOut.model_validate(p) for name, p in model.schema().items()},
    )


class ModelSummary(BaseModel):
    name: str
    display_name: str
    cost_per_image: float


class SessionCountsOut(BaseModel):
    active: int = Field(description="Key sessions open now.")
    total: int = Field(description="Key sessions held, expired ones included until the hourly sweep.")


class Services(BaseModel):
    encryption: str
    sessions: SessionCountsOut


class StatusOut(BaseModel):
    status: Literal["ok"] = "ok"
    services: Services
    available_models: dict[str, ModelSummary]

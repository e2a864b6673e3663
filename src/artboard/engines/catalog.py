"""The model catalog: every engine's models by name, and the engine that runs each."""

from __future__ import annotations

from artboard.config import Settings
from artboard.engines.base import Engine, ModelInfo
from artboard.engines.fal import build_fal_engine
from artboard.engines.gpu_endpoint import GpuEndpointEngine
from artboard.engines.openai_vision import OpenAIVisionEngine
from artboard.engines.sketch_engine import SketchEngine
from artboard.errors import ValidationFailed


class Catalog:
    def __init__(self, engines: list[Engine]) -> None:
        self._engines = {engine.name: engine for engine in engines}
        self._models = {model.name: model for engine in engines for model in engine.models}

    @property
    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def model(self, name: str) -> ModelInfo:
        found = self._models.get(name.lower())
        if found is None:
            raise ValidationFailed(f"Unknown model {name!r}: choose one of {', '.join(self._models)}.")
        return found

    def engine(self, name: str) -> Engine:
        return self._engines[name]

    async def close(self) -> None:
        for engine in self._engines.values():
            await engine.close()


def build_catalog(settings: Settings) -> Catalog:
    """The engines this server can run: the sketch engine needs nothing; the providers' models are listed
    always and ask for a key when a job is submitted."""
    return Catalog(
        [SketchEngine(), build_fal_engine(settings), OpenAIVisionEngine(settings), GpuEndpointEngine(settings)]
    )

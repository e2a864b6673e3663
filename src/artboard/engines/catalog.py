"""The model catalog: every engine's models by name, and the engine that runs each."""

from __future__ import annotations

from artboard.config import Settings
from artboard.engines.base import Engine, ModelInfo
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


def build_catalog(_settings: Settings) -> Catalog:
    """The engines this server can run; the sketch engine needs nothing and is always there."""
    return Catalog([SketchEngine()])

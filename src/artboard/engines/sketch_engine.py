"""The sketch engine as a job engine: one model per style (``sketch:pencil`` ...), the method and seed 000's
``strength`` as parameters. It needs no key and runs anywhere, in a thread so the event loop stays free."""

from __future__ import annotations

import asyncio

from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext, ModelInfo, OutputImage, Parameter
from artboard.engines.sketch import METHODS, STYLES, SketchCanceled, render_sketch
from artboard.media.validation import ImageRejected

SKETCH_PARAMETERS = {
    "method": Parameter(
        "string",
        "How the sketch is drawn: " + "; ".join(f"{m.name}: {m.description}" for m in METHODS),
        default="basic",
        options=tuple(m.name for m in METHODS),
    ),
    "strength": Parameter(
        "number", "How strongly the sketch replaces the photo: 1 is the sketch alone.", 1.0, minimum=0, maximum=1
    ),
    # Seed 000's img2img fields (`POST /api/send_message`): kept with the job and its outputs' lineage, so a
    # sketch made through the gateway records what was asked; the sketch itself does not read them.
    "prompt": Parameter("string", "Seed 000's prompt: kept with the job; a sketch does not use it."),
    "prompt_guidance": Parameter(
        "number", "Seed 000's prompt guidance: kept with the job; a sketch does not use it.", minimum=0, maximum=100
    ),
}


def model_name(style: str) -> str:
    return f"sketch:{style.lower()}"


class SketchEngine:
    name = "sketch"
    models = tuple(
        ModelInfo(
            name=model_name(style.name),
            display_name=f"{style.display_name} sketch",
            description=style.description,
            engine="sketch",
            kind="sketch",
            cost_per_image=0.0,
            parameters=SKETCH_PARAMETERS,
            needs_source=True,
        )
        for style in STYLES
    )

    async def run(self, context: JobContext) -> EngineResult:
        style = context.model.name.split(":", 1)[1]
        method = str(context.parameters["method"])
        source = await context.load_source()
        try:
            sketch = await asyncio.to_thread(
                render_sketch,
                source,
                style,
                method,
                strength=float(context.parameters["strength"]),
                on_progress=context.progress,
                should_stop=context.should_stop,
            )
        except SketchCanceled as exc:
            raise JobCanceled(str(exc)) from None
        except ImageRejected as exc:
            raise EngineError("invalid_source", f"The source image could not be drawn: {exc}") from None
        title = f"{style.capitalize()} sketch ({method})"
        return EngineResult(
            images=[OutputImage(sketch.data, title)],
            data={"style": style, "method": method, "width": sketch.width, "height": sketch.height},
        )

    async def close(self) -> None:
        """The sketch engine holds nothing."""

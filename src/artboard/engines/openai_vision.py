"""OpenAI's vision models as a job engine: one model, ``openai:vision``, that describes the job's source image
through the official ``openai`` SDK (Chat Completions, the image as a data URL).

The key is the user's (their key session) or the operator's (``OPENAI_API_KEY``), so a client is made per call
over one HTTP connection pool the engine owns. The SDK retries what may pass (429 honouring ``Retry-After``,
5xx, lost connections); what still fails after that is transient for the worker. A refusal (401 invalid key,
400 ...) is final: OpenAI's error object is saved on the job (``save_state``) so seed 003's route can pass it
through as the seed did. A call is one request-reply: a worker that dies mid-call sends it again on retry.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import openai
from PIL import Image

from artboard.config import Settings
from artboard.engines.base import EngineError, EngineResult, JobContext, ModelInfo, Parameter
from artboard.media.validation import FORMATS

MODEL_NAME = "openai:vision"
ENGINE_NAME = "openai_vision"
# Where a refusal's error object is kept on the job (``Job.provider_state``).
ERROR_STATE = "openai_error"
# Seed 003 asked the vision model to describe the uploaded picture.
DEFAULT_PROMPT = "Describe this image in detail: the subject, the setting, colours, style and any text in it."
# What the SDK retries itself (and what may pass on a later attempt of the job).
RETRIED_STATUSES = frozenset({408, 409, 429})


class OpenAIVisionEngine:
    name = ENGINE_NAME

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.openai_base_url
        self._model = settings.openai_model
        self._timeout_s = settings.openai_timeout_s
        self._http = openai.DefaultAsyncHttpxClient()
        self.models: tuple[ModelInfo, ...] = (
            ModelInfo(
                name=MODEL_NAME,
                display_name="OpenAI vision",
                description=f"Describes an image in words with OpenAI's {settings.openai_model} (seed 003's analysis).",
                engine=ENGINE_NAME,
                kind="analysis",
                # OpenAI bills per token, not per image, and reports no price: nothing is charged to the ledger.
                cost_per_image=0.0,
                parameters={
                    "prompt": Parameter("string", "What to ask about the image.", default=DEFAULT_PROMPT),
                    "detail": Parameter(
                        "string",
                        "How closely the model looks: low (512 px, cheapest), high (tiles up to 2048 px) or auto.",
                        default="auto",
                        options=("low", "high", "auto"),
                    ),
                },
                needs_source=True,
                provider="openai",
            ),
        )

    async def run(self, context: JobContext) -> EngineResult:
        if not context.credential:
            raise EngineError("key_unavailable", "This job has no OpenAI key to run with.")
        client = openai.AsyncOpenAI(
            base_url=self._base_url,
            api_key=context.credential,
            http_client=self._http,
            max_retries=2,
            timeout=self._timeout_s,
        )
        image = data_url(await context.load_source())
        context.progress(0.1, "Asking OpenAI…")
        try:
            completion = await client.chat.completions.create(
                model=self._model,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": str(context.parameters["prompt"])},
                            {"type": "image_url", "image_url": {"url": image, "detail": context.parameters["detail"]}},
                        ],
                    }
                ],
            )
        except openai.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in RETRIED_STATUSES:
                raise EngineError(
                    "external_error", f"OpenAI failed ({exc.status_code}): {exc.message}", transient=True
                ) from None
            error = error_object(exc)
            await context.save_state({ERROR_STATE: error})
            raise EngineError(
                "external_error", f"OpenAI refused the request ({exc.status_code}): {error['error'].get('message')}"
            ) from None
        except openai.APIConnectionError as exc:
            raise EngineError("external_error", f"OpenAI could not be reached: {exc.message}", transient=True) from None
        return EngineResult(images=[], data={"openai_response": completion.model_dump(mode="json", exclude_unset=True)})

    async def close(self) -> None:
        await self._http.aclose()


def data_url(image: bytes) -> str:
    """The image inline, as OpenAI takes it: its type from its bytes (already checked when it was stored)."""
    with Image.open(io.BytesIO(image)) as opened:
        content_type = FORMATS.get(str(opened.format), "image/jpeg")
    return f"data:{content_type};base64,{base64.b64encode(image).decode()}"


def error_object(exc: openai.APIStatusError) -> dict[str, Any]:
    """OpenAI's error as it sent it, ``{"error": {message, type, param, code}}`` (the SDK keeps the inner part)."""
    if isinstance(exc.body, dict):
        return {"error": exc.body}
    return {"error": {"message": exc.message, "type": None, "param": None, "code": None}}

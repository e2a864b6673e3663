"""FAL's text-to-image models over FAL's queue protocol: submit, poll the status (queue position, then
progress), fetch the result, copy the images (FAL's URLs expire), cancel when asked.

A paid call is never lost or paid twice: the request id and its URLs are written to the job (``save_state``)
as soon as FAL answers the submit, so a run that starts again after a crash or a restart polls the same
request and never submits a second one. The first polls go out while that write commits (waiting for it
first cost a generation a whole commit); the result is handed back only once it has committed, so a job
this worker no longer holds keeps nothing. The deadline (``FAL_TIMEOUT_S``, seed 001's 10 minutes) counts
from the submit, across attempts. A plain httpx client rather than ``fal-client``: that one hard-codes https
and its host.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from artboard.config import Settings
from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext, ModelInfo, OutputImage, Parameter
from artboard.kit.background import outcome_seen
from artboard.kit.capped_read import read_capped

log = logging.getLogger("artboard.engines.fal")
T = TypeVar("T")

# FAL's result images are a few MB; anything far larger is not an image we asked for.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
POLL_FIRST_S, POLL_MAX_S = 0.1, 2.0

IMAGE_SIZES = ("square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9")
PARAMETERS = {
    "prompt": Parameter("string", "What to draw.", required=True),
    "image_size": Parameter("string", "Image size preset.", default="square_hd", options=IMAGE_SIZES),
    "num_images": Parameter("integer", "Number of images to generate.", default=1, minimum=1, maximum=4),
    "num_inference_steps": Parameter("integer", "Denoising steps: more is slower and finer.", minimum=1, maximum=50),
    "guidance_scale": Parameter("number", "How closely to follow the prompt.", minimum=0, maximum=20),
    "seed": Parameter("integer", "The same seed and prompt give the same image.", minimum=0, maximum=2**32 - 1),
    "enable_safety_checker": Parameter("boolean", "Let FAL blank images it finds unsafe.", default=True),
}


@dataclass(frozen=True)
class FalModel:
    name: str  # seed 001's model name
    app: str  # FAL's application path
    display_name: str
    description: str
    cost_per_image: float


FAL_MODELS = (
    FalModel("flux/schnell", "fal-ai/flux/schnell", "Flux Schnell", "Fast, high-quality image generation", 0.003),
    FalModel("hidream/hidream-i1-dev", "fal-ai/hidream-i1-dev", "Hi-Dream I1 Dev", "High quality", 0.004),
    FalModel("hidream/hidream-i1-fast", "fal-ai/hidream-i1-fast", "Hi-Dream I1 Fast", "Fast quality", 0.003),
)


class FalEngine:
    name = "fal"

    def __init__(self, base_url: str, timeout_s: float, http: httpx.AsyncClient | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        self._apps = {model.name: model.app for model in FAL_MODELS}
        self.models = tuple(
            ModelInfo(
                name=model.name,
                display_name=model.display_name,
                description=model.description,
                engine="fal",
                kind="generation",
                cost_per_image=model.cost_per_image,
                parameters=PARAMETERS,
                provider="fal",
                # Polling resumes after a restart; the engine keeps FAL's deadline itself, from the submit on.
                timeout_s=timeout_s + 60,
            )
            for model in FAL_MODELS
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def run(self, context: JobContext) -> EngineResult:
        if not context.credential:
            raise EngineError("key_unavailable", "This job has no FAL key to run with.")
        headers = {"Authorization": f"Key {context.credential}"}
        if context.saved_state:
            return await self._collect(context, context.saved_state, headers)
        request = await self._submit(context, headers)
        saving = asyncio.ensure_future(context.save_state(request))
        saving.add_done_callback(outcome_seen)  # a run that fails first ends without it; its outcome is not needed
        result = await self._collect(context, request, headers)
        await saving  # raises JobCanceled when the job is no longer this worker's
        return result

    async def _collect(self, context: JobContext, request: dict[str, Any], headers: dict[str, str]) -> EngineResult:
        """Wait for the submitted request, then fetch its result and copy its images."""
        deadline = float(request["submitted_at"]) + self._timeout_s
        await self._wait(context, request, headers, deadline)
        output = await _patiently(
            deadline,
            lambda: self._call(
                "GET", request["response_url"], headers, what="fetching the result", transient=True, expect=(200,)
            ),
        )
        images = [
            await _patiently(deadline, functools.partial(self._download, image)) for image in output.get("images") or []
        ]
        if not images:
            raise EngineError("provider_error", "FAL finished without an image.")
        prompt = str(context.parameters["prompt"])
        details = {"prompt": prompt, "model": context.model.name, "request_id": request["request_id"]}
        cost = context.model.cost_per_image * len(images)
        return EngineResult(
            images=[
                OutputImage(
                    data,
                    prompt[:300],
                    {
                        **details,
                        "width": info.get("width"),
                        "height": info.get("height"),
                        "cost": context.model.cost_per_image,
                    },
                )
                for data, info in images
            ],
            data={
                "request_id": request["request_id"],
                "seed": output.get("seed"),
                "timings": output.get("timings"),
                "has_nsfw_concepts": output.get("has_nsfw_concepts"),
            },
            cost=cost,
        )

    async def _submit(self, context: JobContext, headers: dict[str, str]) -> dict[str, Any]:
        """Send the request once; what FAL answered, to be saved before anything else can fail."""
        url = f"{self._base_url}/{self._apps[context.model.name]}"
        body = {name: value for name, value in context.parameters.items() if value is not None}
        # A failed submit was not accepted, so it is safe to try again later (transient).
        reply = await self._call(
            "POST", url, headers, json=body, what="submitting", transient=True, expect=(200, 201, 202)
        )
        try:
            request = {
                "request_id": str(reply["request_id"]),
                "status_url": str(reply["status_url"]),
                "response_url": str(reply["response_url"]),
                "cancel_url": str(reply["cancel_url"]),
                "submitted_at": time.time(),
            }
        except KeyError as missing:
            raise EngineError("provider_error", f"FAL's answer to the submit had no {missing}.") from None
        return request

    async def _wait(
        self, context: JobContext, request: dict[str, Any], headers: dict[str, str], deadline: float
    ) -> None:
        pause = POLL_FIRST_S
        while True:
            if context.should_stop():
                await self._cancel(request, headers)
                raise JobCanceled("canceled while FAL was working")
            if time.time() > deadline:
                await self._cancel(request, headers)
                raise EngineError("provider_timeout", f"FAL did not finish within {self._timeout_s:g} s.")
            try:
                status = await self._call(
                    "GET",
                    request["status_url"],
                    headers,
                    params={"logs": "1"},
                    what="checking the status",
                    transient=True,
                    expect=(200, 202),
                )
            except EngineError as exc:
                if not exc.transient:
                    raise
                log.warning("job %s: %s; polling again", context.job_id, exc.message)
                status = {}
            state = status.get("status")
            if state == "COMPLETED":
                if status.get("error"):
                    raise EngineError("provider_error", f"FAL: {status['error']}")
                return
            if state is None:
                pass  # not heard from this time
            elif state == "IN_QUEUE":
                position = status.get("queue_position")
                context.progress(
                    0.05, f"In FAL's queue at position {position}" if position is not None else "In FAL's queue"
                )
            else:
                context.progress(0.5, "FAL is generating")
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_MAX_S)

    async def _cancel(self, request: dict[str, Any], headers: dict[str, str]) -> None:
        """Ask FAL to drop the request; only one not yet started is sure to stop, so this is best effort."""
        with contextlib.suppress(httpx.HTTPError):
            await self._http.put(request["cancel_url"], headers=headers)

    async def _call(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        what: str,
        transient: bool,
        expect: tuple[int, ...],
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(method, url, headers=headers, json=json, params=params)
        except httpx.HTTPError as exc:
            raise EngineError(
                "provider_unreachable", f"FAL could not be reached while {what}: {exc}", transient=True
            ) from None
        if response.status_code in expect:
            try:
                body = response.json()
            except ValueError:
                raise EngineError("provider_error", f"FAL answered {what} with something other than JSON.") from None
            return body if isinstance(body, dict) else {}
        message = _error_message(response)
        if response.status_code in (401, 403):
            raise EngineError("provider_auth", f"FAL refused the key: {message}")
        if response.status_code == 422:
            raise EngineError("invalid_request", f"FAL refused the request: {message}")
        retry = transient and (response.status_code == 429 or response.status_code >= 500)
        raise EngineError(
            "provider_error", f"FAL answered {response.status_code} while {what}: {message}", transient=retry
        )

    async def _download(self, image: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
        url = str(image.get("url") or "")
        if url.startswith("data:"):
            return base64.b64decode(url.split(",", 1)[1]), image
        try:
            async with self._http.stream("GET", url, timeout=httpx.Timeout(60.0, connect=10.0)) as response:
                if response.status_code != 200:
                    raise EngineError(
                        "provider_error", f"FAL's image could not be fetched ({response.status_code}).", transient=True
                    )
                data, more = await read_capped(response, MAX_DOWNLOAD_BYTES)
                if more:
                    raise EngineError("provider_error", "FAL's image is larger than any image it makes.")
        except httpx.HTTPError as exc:
            raise EngineError(
                "provider_unreachable", f"FAL's image could not be fetched: {exc}", transient=True
            ) from None
        return data, image


async def _patiently(deadline: float, call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, again after a transient failure until the deadline: the request is paid for, so giving up
    on a blip of the network would lose it."""
    pause = POLL_FIRST_S
    while True:
        try:
            return await call()
        except EngineError as exc:
            if not exc.transient or time.time() + pause > deadline:
                raise
            log.warning("%s; trying again in %.1f s", exc.message, pause)
        await asyncio.sleep(pause)
        pause = min(pause * 2, POLL_MAX_S * 4)


def _error_message(response: httpx.Response) -> str:
    """FAL's own words: ``detail`` as text, or a validation error list joined, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail)[:500]
    return str(detail or body)[:500]


def build_fal_engine(settings: Settings) -> FalEngine:
    return FalEngine(settings.fal_base_url, settings.fal_timeout_s)

"""A local FAL: the queue protocol as FAL's queue host speaks it (submit, status with queue position, result,
cancel) and a CDN for the result images, with scripted outcomes. It counts every submit, so a test can
prove a request was paid for once."""

from __future__ import annotations

import asyncio
import io
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import asgi_server

# What a request does (``FakeFal.outcome``): ok | instant (COMPLETED at the first status call) | model_error
# (COMPLETED with FAL's error) | held (IN_PROGRESS until released) | unauthorized (401) | invalid (422)


@dataclass
class FalRequest:
    id: str
    app: str
    key: str
    body: dict[str, Any]
    polls: int = 0
    canceled: bool = False


@dataclass
class FakeFal:
    url: str = ""
    key: str = "fal-test-key"
    outcome: str = "ok"
    cdn_delay_s: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    requests: dict[str, FalRequest] = field(default_factory=dict)
    status_polls: list[str] = field(default_factory=list)  # request ids, one per status call

    @property
    def submits(self) -> list[FalRequest]:
        return list(self.requests.values())

    def reset(self, outcome: str = "ok", key: str = "fal-test-key") -> None:
        self.outcome, self.key, self.cdn_delay_s = outcome, key, 0.0
        self.release.clear()
        self.requests.clear()
        self.status_polls.clear()

    # ---- the queue host ----

    async def submit(self, request: Request) -> Response:
        app = request.path_params["app"]
        if request.headers.get("authorization") != f"Key {self.key}" or self.outcome == "unauthorized":
            return JSONResponse({"detail": "Invalid authentication credentials"}, status_code=401)
        body = await request.json()
        if self.outcome == "invalid" or not body.get("prompt"):
            detail = [{"loc": ["body", "prompt"], "msg": "the prompt is too spicy", "type": "value_error"}]
            return JSONResponse({"detail": detail}, status_code=422)
        request_id = str(uuid.uuid4())
        self.requests[request_id] = FalRequest(request_id, app, self.key, body)
        base = f"{self.url}/{'/'.join(app.split('/')[:2])}/requests/{request_id}"  # FAL drops the subpath
        return JSONResponse(
            {
                "status": "IN_QUEUE",
                "request_id": request_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": 2,
            }
        )

    def _found(self, request: Request) -> FalRequest | None:
        if request.headers.get("authorization") != f"Key {self.key}":
            return None
        return self.requests.get(request.path_params["request_id"])

    async def status(self, request: Request) -> Response:
        found = self._found(request)
        if found is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        self.status_polls.append(found.id)
        found.polls += 1
        if found.polls <= 2 and not found.canceled and self.outcome != "instant":
            return JSONResponse({"status": "IN_QUEUE", "queue_position": 3 - found.polls}, status_code=202)
        if (self.outcome == "held" and not self.release.is_set()) or found.polls == 3:
            return JSONResponse({"status": "IN_PROGRESS", "logs": [{"message": "step 1/4"}]}, status_code=202)
        if found.canceled or self.outcome == "model_error":
            error = "Canceled" if found.canceled else "CUDA out of memory"
            return JSONResponse({"status": "COMPLETED", "logs": [], "error": error, "error_type": "RequestError"})
        return JSONResponse({"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 0.4}})

    async def result(self, request: Request) -> Response:
        found = self._found(request)
        if found is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        count = int(found.body.get("num_images", 1))
        images = [
            {"url": f"{self.url}/cdn/{found.id}/{n}.jpg", "width": 1024, "height": 1024, "content_type": "image/jpeg"}
            for n in range(count)
        ]
        return JSONResponse(
            {
                "images": images,
                "timings": {"inference": 0.41},
                "seed": 123,
                "has_nsfw_concepts": [False] * count,
                "prompt": found.body["prompt"],
            }
        )

    async def cancel(self, request: Request) -> Response:
        found = self._found(request)
        if found is None:
            return JSONResponse({"detail": "Request not found"}, status_code=404)
        found.canceled = True
        return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

    # ---- the CDN ----

    async def image(self, request: Request) -> Response:
        await asyncio.sleep(self.cdn_delay_s)
        return Response(one_megapixel_jpeg(request.url.path), media_type="image/jpeg")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/cdn/{request_id}/{n}.jpg", self.image),
                Route("/{app:path}/requests/{request_id}/status", self.status),
                Route("/{app:path}/requests/{request_id}/cancel", self.cancel, methods=["PUT"]),
                Route("/{app:path}/requests/{request_id}", self.result),
                Route("/{app:path}", self.submit, methods=["POST"]),
            ]
        )


_JPEG: list[bytes] = []


def one_megapixel_jpeg(request_id: str) -> bytes:
    """A 1024x1024 JPEG, as flux/schnell makes by default; the request id goes in a comment segment, so every
    request's picture is a different file (Artboard stores identical bytes once) at no extra encoding cost."""
    if not _JPEG:
        picture = Image.radial_gradient("L").resize((1024, 1024)).convert("RGB")
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=90)
        _JPEG.append(buffer.getvalue())
    comment = request_id.encode()
    return _JPEG[0][:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + _JPEG[0][2:]


@contextmanager
def fake_fal() -> Iterator[FakeFal]:
    fal = FakeFal()
    with asgi_server(fal.app()) as url:
        fal.url = url
        yield fal

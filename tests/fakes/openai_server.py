"""A local OpenAI: `POST /v1/chat/completions` as OpenAI answers it, for the official SDK to talk to.

A key it was not given is refused as OpenAI refuses it (401, `invalid_api_key`); other failures are scripted,
one reply per request in order (a 500, a 429 with `Retry-After`), and once the script is used up every request
succeeds with a ChatCompletion. Every request is recorded with the key it carried and the image it sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import asgi_server

DESCRIPTION = "A yellow flower with a dark centre in front of blurred green leaves, in soft daylight."


@dataclass(frozen=True)
class Recorded:
    key: str
    body: dict[str, Any]
    at: float  # time.monotonic() when it arrived
    answer: dict[str, Any]  # the JSON body it was answered with

    @property
    def image_url(self) -> str:
        """The `image_url` part's URL (a data URL when Artboard sends it)."""
        parts = self.body["messages"][0]["content"]
        url: str = next(part["image_url"]["url"] for part in parts if part["type"] == "image_url")
        return url


def error(status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def server_error() -> Response:
    return error(500, "The server had an error while processing your request. Sorry about that!", "server_error", None)


def rate_limited(retry_after_s: int) -> Response:
    message = "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1."
    return error(429, message, "requests", "rate_limit_exceeded", {"Retry-After": str(retry_after_s)})


@dataclass
class FakeOpenAI:
    url: str = ""
    keys: set[str] = field(default_factory=set)
    script: deque[Response] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)

    def reset(self, *script: Response) -> None:
        """Forget what was asked; the next requests get ``script``, one reply each, then success."""
        self.requests.clear()
        self.script = deque(script)

    async def completions(self, request: Request) -> Response:
        arrived = time.monotonic()
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        body = await request.json()
        reply = self._reply(key, body)
        self.requests.append(Recorded(key, body, arrived, json.loads(bytes(reply.body))))
        return reply

    def _reply(self, key: str, body: dict[str, Any]) -> Response:
        if key not in self.keys:
            shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}"
            message = (
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return error(401, message, "invalid_request_error", "invalid_api_key")
        if self.script:
            return self.script.popleft()
        return JSONResponse(completion(str(body["model"])), headers={"x-request-id": f"req_{uuid.uuid4().hex}"})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])])


def completion(model: str) -> dict[str, Any]:
    """A ChatCompletion as OpenAI sends one for an image and a question."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": f"{model}-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": DESCRIPTION, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 2855,
            "completion_tokens": 21,
            "total_tokens": 2876,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_560af6e559",
    }


@contextmanager
def fake_openai(*keys: str) -> Iterator[FakeOpenAI]:
    """The stand-in on a free port, accepting ``keys``; the SDK's base URL is ``<url>/v1``."""
    openai = FakeOpenAI(keys=set(keys))
    with asgi_server(openai.app()) as url:
        openai.url = url
        yield openai

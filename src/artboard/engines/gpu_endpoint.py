"""The user's own GPU server as an engine (seed 002's GPU endpoint): img2img over the small signed HTTP protocol
of docs/gpu-endpoint.md.

The URL is the user's, so every call is guarded against SSRF when it is made, not only when the URL was saved
(a name can resolve elsewhere by then): the host is resolved here, every address it resolves to must pass
``netguard.check_address``, and the connection goes to the address that was checked, so a DNS answer that
changes between the check and the connect cannot redirect it. Redirects are never followed; timeouts and a
size cap bound what a slow or hostile server can cost.
"""

from __future__ import annotations

import asyncio
import base64
import io
import ipaddress
import json
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image

from artboard.config import Settings
from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext, ModelInfo, OutputImage, Parameter
from artboard.kit import call_signature
from artboard.kit.capped_read import read_capped
from artboard.kit.netguard import Allowlist, BlockedDestination, check_address, check_url
from artboard.media.validation import FORMATS, ImageInfo, ImageRejected, inspect_image

PROVIDER = "gpu_endpoint"
OUTPUT_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
EXCERPT_BYTES = 300
STOP_CHECK_S = 0.1
# What an allowlisted host name may resolve to: any internal address (link-local and metadata stay closed).
EVERY_INTERNAL = Allowlist(networks=(ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")))

IMG2IMG = ModelInfo(
    name="gpu:img2img",
    display_name="Your GPU server: image to image",
    description="Sends the image with the prompt, strength and guidance to the GPU server registered with "
    "PUT /auth/gpu-endpoint, each call signed with its secret (docs/gpu-endpoint.md).",
    engine="gpu_endpoint",
    kind="img2img",
    cost_per_image=0.0,
    parameters={
        "prompt": Parameter("string", "What the GPU server should make of the image.", default=""),
        "strength": Parameter(
            "number",
            "How far the result may move from the image: 0 keeps it, 1 ignores it.",
            0.75,
            minimum=0,
            maximum=1,
        ),
        # Seed 000's name: the gateway's prompt_guidance lands here; the GPU server receives it as "guidance".
        "prompt_guidance": Parameter(
            "number",
            "How closely the result follows the prompt (classifier-free guidance).",
            7.5,
            minimum=0,
            maximum=100,
        ),
    },
    needs_source=True,
    provider=PROVIDER,
)


@dataclass(frozen=True)
class GpuTarget:
    """Where a job's call goes and the secret it is signed with: the job's sealed credential, read when the
    job was queued (engines never touch the database)."""

    url: str
    secret: str

    def credential(self) -> str:
        return json.dumps({"url": self.url, "secret": self.secret})

    @classmethod
    def parse(cls, credential: str | None) -> GpuTarget:
        try:
            fields = json.loads(credential or "")
            return cls(str(fields["url"]), str(fields["secret"]))
        except (ValueError, KeyError, TypeError):
            raise EngineError(
                "gpu_endpoint_missing", "The job carries no GPU endpoint: set yours with PUT /auth/gpu-endpoint."
            ) from None


class GpuEndpointEngine:
    name = "gpu_endpoint"
    models: tuple[ModelInfo, ...] = (IMG2IMG,)

    def __init__(self, settings: Settings) -> None:
        self._allow = Allowlist.parse(settings.gpu_endpoint_allowlist)
        self._timeout_s = settings.gpu_timeout_s
        self._max_bytes = settings.gpu_max_response_bytes
        self._max_pixels = settings.max_image_pixels
        self._http = httpx.AsyncClient(
            timeout=settings.gpu_timeout_s,
            follow_redirects=False,
            # A proxy from the environment would resolve the name itself, past the check.
            trust_env=False,
            # Pooled connections are keyed by the pinned address: one verified for a host name must never carry
            # a request for another name on the same address. A GPU call takes seconds; a handshake does not.
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def run(self, context: JobContext) -> EngineResult:
        target = GpuTarget.parse(context.credential)
        source = await context.load_source()
        prompt = str(context.parameters["prompt"])
        source_type = inspect_image(io.BytesIO(source), frozenset(FORMATS.values()), self._max_pixels).content_type
        body = json.dumps(
            {
                "job_id": context.job_id,
                "image": base64.b64encode(source).decode(),
                "content_type": source_type,
                "prompt": prompt,
                "strength": context.parameters["strength"],
                "guidance": context.parameters["prompt_guidance"],
            }
        ).encode()
        context.progress(0.05, "Waiting for your GPU server")
        data = await _until_stopped(context, self._call(target, body))
        info = await asyncio.to_thread(_checked_image, data, self._max_pixels)
        title = f"GPU img2img: {prompt[:80]}" if prompt else "GPU img2img"
        return EngineResult(
            images=[OutputImage(data, title)],
            data={"content_type": info.content_type, "width": info.width, "height": info.height},
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, target: GpuTarget, body: bytes) -> bytes:
        """POST the signed body to the pinned address; the image the server answered."""
        url, headers, extensions = await self._pinned(target.url)
        headers |= {
            "Content-Type": "application/json",
            "Accept": "image/png, image/jpeg, image/webp, application/json",
            call_signature.HEADER: call_signature.sign(target.secret, body),
        }
        try:
            async with self._http.stream("POST", url, content=body, headers=headers, extensions=extensions) as response:
                return await self._image_of(response)
        except httpx.TimeoutException:
            raise EngineError(
                "gpu_timeout", f"Your GPU server did not answer within {self._timeout_s:g} s.", transient=True
            ) from None
        except httpx.HTTPError as exc:
            raise EngineError(
                "gpu_unreachable", f"Your GPU server could not be reached: {exc}", transient=True
            ) from None

    async def _pinned(self, url: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        """``url`` with its host replaced by an address that passed the SSRF check, and the Host header and TLS
        server name of the original host, so virtual hosts and certificate checks still see the name."""
        try:
            check_url(url, self._allow)  # the scheme, metadata names and literal addresses
            parsed = httpx.URL(url)
            host = parsed.raw_host.decode("ascii")
            addresses = await _resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
            allow = EVERY_INTERNAL if host.lower().rstrip(".") in self._allow.hosts else self._allow
            for address in addresses:
                check_address(address, allow)
        except BlockedDestination as exc:
            hint = "; the server's operator can allow it in ARTBOARD_GPU_ENDPOINT_ALLOWLIST" if exc.allowable else ""
            raise EngineError(
                "gpu_endpoint_refused", f"Artboard will not call your GPU server: {exc.reason}{hint}."
            ) from None
        extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
        return parsed.copy_with(host=addresses[0]), {"Host": parsed.netloc.decode("ascii")}, extensions

    async def _image_of(self, response: httpx.Response) -> bytes:
        """The image in a 2xx reply: its body, or the base64 ``image`` of a JSON body; EngineError otherwise."""
        if 300 <= response.status_code < 400:
            where = response.headers.get("location", "elsewhere")
            raise EngineError(
                "gpu_redirect",
                f"Your GPU server answered {response.status_code}, a redirect to {where[:200]}; "
                "Artboard does not follow redirects: register the final URL.",
            )
        if not response.is_success:
            excerpt, more = await read_capped(response, EXCERPT_BYTES)
            text = " ".join(excerpt.decode(errors="replace").split()) + ("..." if more else "")
            raise EngineError(
                "gpu_error",
                f"Your GPU server answered {response.status_code}: {text or response.reason_phrase}",
                transient=response.status_code >= 500 or response.status_code == 429,
            )
        declared = response.headers.get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self._max_bytes
        data, more = (b"", True) if too_large else await read_capped(response, self._max_bytes)
        if more:
            raise EngineError(
                "gpu_response_too_large", f"Your GPU server's reply is larger than {self._max_bytes} bytes."
            )
        if response.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return data
        try:
            return base64.b64decode(json.loads(data)["image"], validate=True)
        except (ValueError, KeyError, TypeError):
            raise EngineError(
                "gpu_invalid_image", 'Your GPU server answered JSON without a base64 "image" field.'
            ) from None


async def _resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an address resolves to itself)."""
    try:
        found = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EngineError(
            "gpu_unreachable", f"Your GPU server's host {host} could not be resolved ({exc}).", transient=True
        ) from None
    return list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))


async def _until_stopped(context: JobContext, call: Coroutine[Any, Any, bytes]) -> bytes:
    """``call``'s result; JobCanceled as soon as the job is told to stop (the request is then abandoned)."""
    task = asyncio.create_task(call)
    try:
        while not task.done():
            if context.should_stop():
                raise JobCanceled("Stopped while your GPU server was working.")
            await asyncio.wait({task}, timeout=STOP_CHECK_S)
        return task.result()
    finally:
        task.cancel()


def _checked_image(data: bytes, max_pixels: int) -> ImageInfo:
    """What the reply's image is, after the upload checks and one full decode: bytes the gallery would refuse
    must fail the job here, not later when the worker stores them."""
    try:
        info = inspect_image(io.BytesIO(data), OUTPUT_TYPES, max_pixels)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except ImageRejected as exc:
        raise EngineError(
            "gpu_invalid_image", f"Your GPU server's reply is not an image Artboard accepts: {exc}"
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise EngineError("gpu_invalid_image", "Your GPU server's reply is a truncated or corrupt image.") from None
    return info

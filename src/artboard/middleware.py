"""Per-request plumbing as plain ASGI: request id, security headers and one JSON log line per request."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from artboard.errors import envelope
from artboard.logs import ACCESS_LOG

error_log = logging.getLogger("artboard.errors")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Paths whose last segment is a bearer credential (signed download URLs): logged without it.
SECRET_PATH_PREFIXES = ("/api/storage/files/",)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        status_sent = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Answered here rather than by Starlette, which would re-raise and make the server drop the
            # connection: a bug still gets a 500 in the envelope and a logged traceback.
            error_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if status_sent is False:
                response = envelope(scope["path"], 500, "internal_error", "Something went wrong on our side.")
                await response(scope, receive, send_with_headers)
            status = 500
        finally:
            _log(scope, request_id, status, started)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _SAFE_REQUEST_ID.match(text) else None
    return None


def _loggable_path(path: str) -> str:
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix):
            return prefix + "<redacted>"
    return path


def _log(scope: Scope, request_id: str, status: int, started: float) -> None:
    """Method, path, status, timing and user id only: never headers, query strings, cookies or bodies."""
    if ACCESS_LOG.enabled:
        ACCESS_LOG.write(
            request_id,
            scope["method"],
            _loggable_path(scope["path"]),
            status,
            (time.perf_counter() - started) * 1000,
            scope.get("state", {}).get("user_id"),
        )

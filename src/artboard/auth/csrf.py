"""Cross-site request forgery protection for every route, before any handler runs.

A browser attaches cookies to a request whatever page sent it, so a write authenticated by the auth
cookies must come from a trusted origin: this server's own, ``PUBLIC_URL``'s, or one listed in
``ALLOWED_ORIGINS``. A sign-in that would set the cookies is checked too (login CSRF: a foreign page must
not sign a visitor into an account of its choosing). A request with an ``Authorization`` header is
authenticated by that header, which a foreign page cannot set without CORS consent, so it is not checked.
Requests without ``Origin`` or ``Referer`` come from programs, not pages, and carry no ambient risk.
A WebSocket authenticated by the cookie is checked the same way by its route (``foreign_origin``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from artboard.errors import envelope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_COOKIES = (b"access_token=", b"refresh_token=")
# Routes that set the auth cookies without being authenticated by them.
COOKIE_SIGN_INS = frozenset({"/api/auth/login", "/api/admin/first-run"})
# A WebSocket's page is served over HTTP(S): the origin of a ws:// handshake is http://.
WEB_SCHEMES = {"ws": "http", "wss": "https"}


class CsrfGuard:
    def __init__(self, app: ASGIApp, allowed_origins: list[str], public_url: str | None) -> None:
        self.app = app
        self._trusted = trusted_origins(allowed_origins, public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            origin = self._foreign_origin(scope)
            if origin is not None:
                response = envelope(
                    scope["path"],
                    403,
                    "authorization_error",
                    f"Cross-site request refused: the origin {origin} is not allowed. If your front end runs "
                    "there, add it to ALLOWED_ORIGINS (comma-separated) and restart Artboard.",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _foreign_origin(self, scope: Scope) -> str | None:
        """The sending page's origin when the request needs checking and that origin is not trusted."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if any(name == b"authorization" and value.strip() for name, value in headers):
            return None  # authenticated by the header (an empty one falls back to the cookie: checked)
        cookies = b";".join(value for name, value in headers if name == b"cookie")
        if scope["path"] not in COOKIE_SIGN_INS and not any(name in cookies for name in AUTH_COOKIES):
            return None
        return foreign_origin(scope, self._trusted)


def trusted_origins(allowed_origins: list[str], public_url: str | None) -> frozenset[str]:
    """The origins trusted besides the server's own: ``ALLOWED_ORIGINS`` and ``PUBLIC_URL``'s."""
    trusted = {origin.rstrip("/") for origin in allowed_origins}
    if public_url:
        trusted.add(_origin_of(public_url))
    return frozenset(trusted)


def foreign_origin(scope: Scope, trusted: frozenset[str]) -> str | None:
    """The sending page's origin when it is neither trusted nor this server's own, for a request or a WebSocket
    handshake; None for a program (no ``Origin`` or ``Referer``)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    origins = [value for name, value in headers if name == b"origin"]
    if len(origins) > 1:
        return "(several Origin headers)"
    origin = _page_origin(origins[0] if origins else None, headers)
    if origin is None or origin in trusted:
        return None
    host = next((value for name, value in headers if name == b"host"), b"").decode("latin-1")
    scheme = scope.get("scheme", "http")
    return None if origin == f"{WEB_SCHEMES.get(scheme, scheme)}://{host}" else origin


def _page_origin(origin: bytes | None, headers: list[tuple[bytes, bytes]]) -> str | None:
    if origin is not None:
        return origin.decode("latin-1").rstrip("/")
    referer = next((value for name, value in headers if name == b"referer"), None)
    return _origin_of(referer.decode("latin-1")) if referer else None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"

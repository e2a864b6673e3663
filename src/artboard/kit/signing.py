"""Short-lived HMAC-signed payloads for URLs Artboard serves itself (local presigned uploads and downloads)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class UrlSigner:
    def __init__(self, secret: str, purpose: str) -> None:
        # A key per purpose: a token signed for one use can never be replayed as another.
        self._key = hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()

    def sign(self, payload: dict[str, Any], expires_s: int) -> str:
        body = _b64(json.dumps({**payload, "exp": int(time.time()) + expires_s}, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The payload, or None when the token is forged, malformed or expired."""
        body, _, signature = token.partition(".")
        try:
            if not hmac.compare_digest(_unb64(signature), self._mac(body)):
                return None
            payload: dict[str, Any] = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(payload, dict) or int(payload.get("exp", 0)) < time.time():
            return None
        return payload

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

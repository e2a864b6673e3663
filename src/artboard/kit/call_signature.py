"""Signed outgoing calls: how a user's server (a GPU endpoint now, webhooks later) knows a request is Artboard's.

Stripe's scheme: ``Artboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
The timestamp is signed with the body, so a receiver that refuses old timestamps also refuses a captured
request replayed later; ``v1`` names the scheme, so another can be sent beside it one day.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Artboard-Signature"
TOLERANCE_S = 300


def new_secret() -> str:
    """A random secret to sign one user's calls with; the whole string, prefix included, is the HMAC key."""
    return f"absec_{secrets.token_urlsafe(32)}"


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for ``body`` sent now (or at ``timestamp``)."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    return f"t={signed_at},v1={_mac(secret, signed_at, body)}"


def verify(secret: str, header: str, body: bytes, tolerance_s: int = TOLERANCE_S, now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance_s`` of ``now`` (either side:
    clocks drift). Compared in constant time; any ``v1`` may match, as Stripe's receivers accept."""
    fields = [(key.strip(), value.strip()) for key, _, value in (part.partition("=") for part in header.split(","))]
    stamps = [value for key, value in fields if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    signed_at = int(stamps[0])
    if abs((time.time() if now is None else now) - signed_at) > tolerance_s:
        return False
    expected = _mac(secret, signed_at, body).encode()
    return any(hmac.compare_digest(value.encode(), expected) for key, value in fields if key == "v1")


def _mac(secret: str, signed_at: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{signed_at}.".encode() + body, hashlib.sha256).hexdigest()

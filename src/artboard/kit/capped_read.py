"""Reading a reply from a server Artboard calls (a provider's CDN, a user's GPU server) without trusting its size."""

from __future__ import annotations

import httpx


async def read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of a streamed body, read no further, and whether there was more."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > limit:
            return bytes(data[:limit]), True
    return bytes(data), False

"""JSON going out: whatever a client once stored, and whatever an error message echoes, renders.

Input checks refuse lone surrogates, NaN and deep nesting (``kit/body.py``), but a value stored before them, or
written behind the API, must still be readable: one bad value must not turn every read of it into a 500.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi.responses import JSONResponse
from pydantic import AfterValidator
from pydantic_core import PydanticSerializationError, to_json

# Pydantic's serializer stops at 255 levels, counted from the response's top; a stored value keeps this many.
SERVED_DEPTH = 64


class SafeJSONResponse(JSONResponse):
    """Starlette's compact UTF-8 JSON, or ASCII with ``\\uXXXX`` escapes when the content holds a lone surrogate
    (an error naming a field whose key is one)."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _servable(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` as Pydantic can serialize it: a lone surrogate becomes U+FFFD, and an object or array deeper
    than ``SERVED_DEPTH`` its JSON text. NaN and Infinity Pydantic writes as null itself."""
    if _plain(value):
        return value
    served: dict[str, Any] = _within(value, 1)
    return served


def _plain(value: dict[str, Any]) -> bool:
    """The usual value, checked at Rust speed: Pydantic writes it, with no more brackets (so no deeper
    nesting) than ``SERVED_DEPTH``."""
    try:
        written = to_json(value)
    except PydanticSerializationError:
        return False
    return written.count(b"{") + written.count(b"[") <= SERVED_DEPTH


def _within(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, dict | list):
        return value
    if depth > SERVED_DEPTH:
        return json.dumps(value)  # ASCII: surrogates escaped
    if isinstance(value, dict):
        return {_text(key) if isinstance(key, str) else key: _within(item, depth + 1) for key, item in value.items()}
    return [_within(item, depth + 1) for item in value]


def _text(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


# Free-form JSON read back from the database (metadata, preferences), for response models: served whatever
# was stored, at the cost of exactness only for values the input checks now refuse.
StoredJson = Annotated[dict[str, Any], AfterValidator(_servable)]

"""Read a request body whatever form a client sends it in (JSON, urlencoded form or multipart).

Seed clients differ: the OAuth2 "Authorize" button posts a form, the PocketBase SDK posts JSON or
multipart, everyone else JSON. Routes that must accept several forms read their body through here.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, StringConstraints, ValidationError
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from artboard.errors import PayloadTooLarge, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)

# Bodies that are not file uploads: far more than any sign-in or settings form needs.
BODY_LIMIT = 1024 * 1024
# Room for a form's other fields and multipart boundaries on top of an uploaded file.
FORM_OVERHEAD = 64 * 1024


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than the {limit // (1024 * 1024)} MiB limit.", detail={"limit": limit})


async def capped_stream(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit - FORM_OVERHEAD if limit > FORM_OVERHEAD else limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        yield chunk


async def read_capped_body(request: Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in capped_stream(request, limit)])


class BodyError(Exception):
    """The body could not be read; ``reason`` is ``unsupported`` or ``malformed``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


async def read_body(request: Request) -> dict[str, Any]:
    """The body's fields (files in a multipart body are ignored), at most ``BODY_LIMIT`` bytes."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await MultiPartParser(request.headers, capped_stream(request, BODY_LIMIT), max_files=10).parse()
        except MultiPartException as exc:
            raise BodyError("malformed", f"The multipart body could not be read ({exc.message}).") from None
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        await form.close()
        return fields
    raw = await read_capped_body(request, BODY_LIMIT)
    if content_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))
    if content_type not in ("", "application/json") and not content_type.endswith("+json"):
        raise BodyError("unsupported", "Unsupported Content-Type.")
    if not raw.strip():
        return {}
    data = loads_strict(raw)
    if not isinstance(data, dict):
        raise BodyError("malformed", "The request body must be a JSON object.")
    return data


def loads_strict(raw: bytes | str) -> Any:
    """JSON as databases can store it: no NaN or Infinity, no nesting deep enough to exhaust the stack."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not allowed")

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BodyError("malformed", f"The request body is not valid JSON ({reason}).") from None


def parse_as(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    """Validate a body read by ``read_body``, failing exactly as FastAPI's own body validation does."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


async def read_data(request: Request) -> dict[str, Any]:
    """``read_body`` for Artboard's own routes: an unreadable body is a 400 in Artboard's envelope."""
    try:
        return await read_body(request)
    except BodyError as exc:
        raise ValidationFailed(exc.message) from None


def _clean_json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must not contain NaN or Infinity")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _clean_json(key)
            _clean_json(item)
    elif isinstance(value, list):
        for item in value:
            _clean_json(item)
    return value


# Free-form JSON a client stores (metadata, preferences): what every supported database accepts.
JsonObject = Annotated[dict[str, Any], AfterValidator(_clean_json)]
# Text without NUL characters (PostgreSQL refuses them in text columns).
CleanText = StringConstraints(pattern=r"^[^\x00]*$")

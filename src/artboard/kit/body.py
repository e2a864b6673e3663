"""Read a request body whatever form a client sends it in (JSON, urlencoded form or multipart).

Seed clients differ: the OAuth2 "Authorize" button posts a form, the PocketBase SDK posts JSON or
multipart, everyone else JSON. Routes that must accept several forms read their body through here.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from artboard.errors import ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyError(Exception):
    """The body could not be read; ``reason`` is ``unsupported`` or ``malformed``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


async def read_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.startswith(FORM_TYPES):
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.body()
    if content_type not in ("", "application/json") and not content_type.endswith("+json"):
        raise BodyError("unsupported", "Unsupported Content-Type.")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BodyError("malformed", f"The request body is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise BodyError("malformed", "The request body must be a JSON object.")
    return data


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

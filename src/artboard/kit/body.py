"""Read a request body whatever form a client sends it in (JSON, urlencoded form or multipart), and hold every
value a client sends to what Artboard can store and serve back.

Seed clients differ: the OAuth2 "Authorize" button posts a form, the PocketBase SDK posts JSON or
multipart, everyone else JSON. Routes that must accept several forms read their body through here.
Sizes are bounded before any of this runs (``kit/limits.py``), and so are JSON bodies' values.
"""

from __future__ import annotations

import json
from math import isfinite
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, StringConstraints, ValidationError
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from artboard.errors import PayloadTooLarge, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)

# Bodies that are not file uploads: far more than any sign-in or settings form needs.
BODY_LIMIT = 1024 * 1024
# Room for a form's other fields and multipart boundaries on top of an uploaded file.
FORM_OVERHEAD = 64 * 1024
# Levels of objects and arrays: more than any Artboard body needs, far fewer than a stack or serializer allows.
JSON_DEPTH = 32
TOO_DEEP = f"must not be nested deeper than {JSON_DEPTH} levels"


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than the {limit // (1024 * 1024)} MiB limit.", detail={"limit": limit})


class BodyError(Exception):
    """The body could not be read; ``reason`` is ``unsupported`` or ``malformed``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class Unstorable(BodyError):
    """A value no database column or JSON reply can hold, at ``field`` (a path such as ``preferences.a.0``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__("malformed", f"{field}: {problem}")
        self.field = field
        self.problem = problem
        # Nesting is the body's shape (400); the other problems are one field's value (422, like Pydantic's).
        self.status = 400 if problem == TOO_DEEP else 422


def check_storable(value: Any) -> None:
    """Refuse NUL characters, lone surrogates, NaN, Infinity and nesting deeper than ``JSON_DEPTH``.

    PostgreSQL refuses NUL in text, UTF-8 cannot encode a lone surrogate, JSON has no NaN, and a deep value
    exhausts serializers: each would be stored, then fail every read.
    """
    found = _unstorable(value, 1)
    if found is not None:
        path, problem = found
        raise Unstorable(".".join(reversed(path)) or "body", problem)


def _unstorable(value: Any, depth: int) -> tuple[list[str], str] | None:
    """The first problem in ``value`` and its path, innermost key first (so each level appends one)."""
    if isinstance(value, str):
        problem = _text_problem(value)
        return ([], problem) if problem else None
    if isinstance(value, float) and not isfinite(value):
        return [], "must not be NaN or Infinity"
    if isinstance(value, dict | list):
        if depth > JSON_DEPTH:
            return [], TOO_DEEP
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            key_problem = _text_problem(key) if isinstance(key, str) else None
            found = ([], key_problem) if key_problem else _unstorable(item, depth + 1)
            if found is not None:
                found[0].append(str(key))
                return found
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL characters"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode (no lone surrogates)"
    return None


def loads_strict(raw: bytes | str) -> Any:
    """JSON as Artboard stores it: ``BodyError`` if it is not JSON, ``Unstorable`` if ``check_storable`` fails."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise Unstorable("body", TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError("malformed", f"The request body is not valid JSON ({exc}).") from None
    check_storable(value)
    return value


async def read_body(request: Request) -> dict[str, Any]:
    """The body's fields (files in a multipart body are ignored)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await MultiPartParser(request.headers, request.stream(), max_files=10).parse()
        except MultiPartException as exc:
            raise BodyError("malformed", f"The multipart body could not be read ({exc.message}).") from None
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        await form.close()
        return fields
    raw = await request.body()
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


# Free-form JSON a client stores (metadata, preferences): ``check_storable`` has held it to what every
# supported database accepts and serves, on its way in (kit/limits.py for JSON bodies, ``loads_strict``).
JsonObject = dict[str, Any]
# Text without NUL characters (PostgreSQL refuses them in text columns), for fields read from forms.
CleanText = StringConstraints(pattern=r"^[^\x00]*$")

"""What the OpenAPI document says about hand-read request bodies and error answers, declared in one place.

FastAPI documents only the bodies it parses itself, and documents 422 as its own ``HTTPValidationError``.
Artboard reads some bodies by hand (uploads, JSON-or-form sign-in, PocketBase records) and answers every
error in its envelope (``errors.py``). Routers say which errors they give with ``errors(...)`` (or
``pocketbase_errors(...)``) in ``responses=``, and describe a hand-read body with ``request_body(...)`` in
``openapi_extra=``; ``install_openapi`` swaps FastAPI's 422 schema for the envelope and serves the docs UI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from artboard.docs_ui import install_docs
from artboard.errors import POCKETBASE_PREFIX

# A file part of a multipart body: Swagger UI shows a file picker for it, client generators a bytes field.
FILE: dict[str, Any] = {"type": "string", "format": "binary"}
TEXT: dict[str, Any] = {"type": "string"}
# The types an image Artboard serves may have (what uploads accept; derivatives are JPEG).
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


def image_bytes(description: str, types: Iterable[str] = IMAGE_TYPES, *, etag: bool = False) -> dict[int | str, Any]:
    """The ``responses=`` entries of a route answering an image's bytes (``response_class=Response``): FastAPI
    would document its 200 as JSON. With ``etag``, the 304 an unchanged ``If-None-Match`` gets."""
    replies: dict[int | str, Any] = {
        200: {"description": description, "content": {media_type: {"schema": FILE} for media_type in types}}
    }
    if etag:
        replies[304] = {"description": "Unchanged since the `ETag` sent in `If-None-Match`."}
    return replies


# What `kit.body.read_body` accepts, so what a route reading its body through it accepts.
READ_BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
# The errors of any route that reads a body: unreadable (400), too large (413), a field refused (422).
BODY = (400, 413, 422)


class Error(BaseModel):
    """Artboard's error envelope: every error on every route outside ``/api/collections/``."""

    error: str = Field(description="Machine-readable code, e.g. `validation_error`, `not_found`.")
    message: str = Field(description="One sentence for a person, saying what went wrong.")
    detail: Any = Field(description="Null, or more: for 422 a list of `{field, message}`, for 413 `{limit}`.")


class PocketBaseError(BaseModel):
    """PocketBase's own error shape, which its SDK reads: the routes under ``/api/collections/``."""

    status: int
    message: str
    data: dict[str, Any] = Field(description="Per-field errors: `{field: {code, message}}`; empty otherwise.")


_MEANINGS = {
    400: "The body or a parameter could not be read (not JSON, not a form, a malformed id).",
    401: "Sign in first: the token is missing, expired or revoked.",
    402: "The job would pass your monthly budget (`budget_exceeded`).",
    403: "Not allowed: a cookie-authenticated write from a foreign origin, or a disabled account.",
    404: "Nothing with this id belongs to the caller.",
    409: "Conflicts with what is stored.",
    413: "The body is larger than the limit.",
    422: "A field failed validation; `detail` lists each field and why.",
    429: "Too many failed sign-ins: retry after `Retry-After` seconds.",
    500: "An upstream failure where a seed documented 500 (`external_error`).",
    502: "The provider refused or failed (`external_error`, with its message).",
    503: "A service Artboard depends on did not answer; try again shortly.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds until a retry may succeed.", "schema": {"type": "integer"}}}


def errors(*statuses: int, notes: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for Artboard's envelope; ``notes`` replaces a status's generic description."""
    return _responses(Error, statuses, notes)


def pocketbase_errors(*statuses: int, notes: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for PocketBase's error shape."""
    return _responses(PocketBaseError, statuses, notes)


def _responses(
    model: type[BaseModel], statuses: Iterable[int], notes: Mapping[int, str] | None
) -> dict[int | str, dict[str, Any]]:
    described = {**_MEANINGS, **(notes or {})}
    declared: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        declared[status] = {"model": model, "description": described[status]}
        if status == 429:
            declared[status]["headers"] = _RETRY_AFTER
    return declared


# What a submit of a paid model may add: no key to run with (401), over the monthly budget (402).
PAID = (401, 402)

# The errors of every admin route.
ADMIN_ONLY = errors(401, 403, notes={403: "Only admins may do this."})


def object_schema(properties: Mapping[str, dict[str, Any]], required: Iterable[str] = ()) -> dict[str, Any]:
    """The schema of a form (or JSON object) with these fields."""
    return {"type": "object", "properties": dict(properties), "required": list(required)}


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A flat model's JSON schema, inlined (nested models would need component references)."""
    schema = model.model_json_schema()
    assert "$defs" not in schema, f"{model.__name__} nests models: reference them as components instead"
    return schema


def request_body(content: Mapping[str, dict[str, Any]], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a body the route reads itself: one schema per accepted media type."""
    media = {media_type: {"schema": schema} for media_type, schema in content.items()}
    return {"requestBody": {"required": required, "content": media}}


def read_body_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` for a body read by ``read_body``: these fields as JSON, a urlencoded or a multipart form."""
    return request_body(dict.fromkeys(READ_BODY_TYPES, schema))


def install_openapi(app: FastAPI) -> None:
    """Give every 422 the envelope's schema instead of FastAPI's, document on every route the refusals of the
    input bounds, and serve `/docs` and `/redoc` locally."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return _input_limit_errors(_envelope_for_validation_errors(generate()))

    app.openapi = openapi  # type: ignore[method-assign]
    install_docs(app)


_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _envelope_for_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents its automatic 422 as ``HTTPValidationError``; the handler answers in the envelope, and on
    the PocketBase routes (which refuse fields with 400, as PocketBase does) never answers 422 at all.

    Changes FastAPI's cached document in place, so a second pass finds nothing left to change."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (Error, PocketBaseError):
        schemas.setdefault(model.__name__, model.model_json_schema())
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.get("responses", {})
            answer = responses.get("422", {})
            if answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref") != _FASTAPI_422:
                continue
            if path.startswith(POCKETBASE_PREFIX):
                del responses["422"]
            else:
                answer["description"] = _MEANINGS[422]
                answer["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Error"}
    for fastapi_default in ("HTTPValidationError", "ValidationError"):
        schemas.pop(fastapi_default, None)
    return document


# What kit/limits.py answers on any route, before the route runs: a value no database can hold in the path, the
# query or a body (422; 400 for nesting, and on PocketBase's routes), a body over its limit (413). A route that
# takes no body still has one read, if sent, and refused the same way.
_BOUNDS = {
    400: "The body is nested too deeply, or (PocketBase's routes) a value no database can hold.",
    413: _MEANINGS[413],
    422: "A value no database can hold (a NUL character, a lone surrogate, NaN) in the path, query or body.",
}


def _input_limit_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add the input bounds' refusals to every operation that does not document them already (in place)."""
    for path, operations in document.get("paths", {}).items():
        pocketbase = path.startswith(POCKETBASE_PREFIX)
        envelope = {"$ref": f"#/components/schemas/{'PocketBaseError' if pocketbase else 'Error'}"}
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, meaning in _BOUNDS.items():
                if pocketbase and status == 422:
                    continue  # PocketBase refuses fields with 400
                responses.setdefault(
                    str(status), {"description": meaning, "content": {"application/json": {"schema": envelope}}}
                )
    return document

"""Errors the services raise, and the one place that turns them into responses.

Artboard's routes answer ``{"error", "message", "detail"}``; the PocketBase-compatible routes under
``/api/collections/`` answer in PocketBase's own ``{"status", "message", "data"}`` so its SDK understands them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from artboard.kit.jsonresponse import SafeJSONResponse

POCKETBASE_PREFIX = "/api/collections/"


class AppError(Exception):
    status = 400
    code = "validation_error"
    # True when the changes made before the error must still be committed (e.g. a revocation).
    commit = False

    def __init__(self, message: str, *, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.headers = headers


class ValidationFailed(AppError):
    status, code = 400, "validation_error"


class InvalidField(AppError):
    """One named field refused by a check only the service can make (a model name, say): 422 with
    ``detail`` as Pydantic's refusals have it, ``[{field, message}]``."""

    status, code = 422, "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", detail=[{"field": field, "message": message}])


class AuthenticationFailed(AppError):
    status, code = 401, "authentication_error"


class Forbidden(AppError):
    status, code = 403, "authorization_error"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class ExternalFailure(AppError):
    status, code = 502, "external_error"


class BudgetExceeded(AppError):
    status, code = 402, "budget_exceeded"


class Unavailable(AppError):
    """A service Artboard depends on (an identity provider) did not answer: the caller may try again."""

    status, code = 503, "external_error"


class RateLimited(AppError):
    status, code = 429, "rate_limit_error"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class PocketBaseError(Exception):
    """An error rendered exactly as PocketBase renders it (``data`` holds per-field errors)."""

    def __init__(self, status: int, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data or {}


_STATUS_CODES = {
    400: "validation_error",
    401: "authentication_error",
    403: "authorization_error",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "validation_error",
    422: "validation_error",
    429: "rate_limit_error",
    502: "external_error",
}

_STATUS_MESSAGES = {
    404: "The requested resource wasn't found.",
    405: "This method is not allowed on this path.",
}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return envelope(request.url.path, status, code, message, detail, headers)


def envelope(
    path: str, status: int, code: str, message: str, detail: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    if path.startswith(POCKETBASE_PREFIX):
        body: dict[str, Any] = {"data": {}, "message": message, "status": status}
    else:
        body = {"error": code, "message": message, "detail": detail}
    return SafeJSONResponse(body, status_code=status, headers=headers)


def invalid_fields(path: str, fields: list[dict[str, str]], status: int = 422) -> JSONResponse:
    """Refuse named fields (``[{field, message}]``): Artboard lists them in ``detail``; PocketBase answers 400
    with them in ``data``, as its own validation does."""
    message = f"{fields[0]['field']}: {fields[0]['message']}"
    if path.startswith(POCKETBASE_PREFIX):
        data = {f["field"]: {"code": "validation_invalid_value", "message": f["message"]} for f in fields}
        return SafeJSONResponse({"data": data, "message": message, "status": 400}, status_code=400)
    return envelope(path, status, "validation_error", message, fields)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "body"


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(request, exc.status, exc.code, exc.message, exc.detail, exc.headers)


async def _pocketbase_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PocketBaseError)
    return SafeJSONResponse({"data": exc.data, "message": exc.message, "status": exc.status}, status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(request, 400, "validation_error", "The request body is not valid JSON.")
    return invalid_fields(
        request.url.path, [{"field": _field_name(tuple(e["loc"])), "message": e["msg"]} for e in errors]
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "internal_error" if exc.status_code >= 500 else "validation_error")
    message = _STATUS_MESSAGES.get(exc.status_code) or str(exc.detail)
    return error_response(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(PocketBaseError, _pocketbase_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

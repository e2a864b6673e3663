"""Who is calling: typed dependencies every route uses.

Tokens are read leniently (``Authorization: Bearer <t>``, a bare ``Authorization: <t>`` as PocketBase's SDK
sends it, or the ``access_token`` cookie; a WebSocket's first from ``?token=``) and enforced by
``CurrentUser``. Cookie-authenticated writes are origin-checked for every route by ``auth/csrf.py`` before any
handler runs.

The token check runs on nearly every request, so ``optional_caller`` depends on the request alone: each
sub-dependency costs FastAPI a solving step. The bearer scheme that gives ``/docs`` its Authorize button is
therefore declared in the OpenAPI document (``document_bearer``) rather than resolved per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.requests import HTTPConnection
from fastapi.routing import APIRoute

from artboard.auth.principal import Principal
from artboard.deps import resources_of
from artboard.errors import AuthenticationFailed, Forbidden
from artboard.kit.tokens import TokenClaims

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
BEARER_SCHEME = "OAuth2PasswordBearer"
CALLER_KEY = "artboard.caller"


@dataclass(frozen=True)
class Caller:
    user: Principal
    claims: TokenClaims
    via_cookie: bool


def read_token(request: HTTPConnection) -> tuple[str | None, bool]:
    """The presented token and whether it came from the cookie."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        if not rest:
            return scheme, False
        return (rest.strip(), False) if scheme.lower() == "bearer" else (None, False)
    cookie = request.cookies.get(ACCESS_COOKIE)
    return (cookie, True) if cookie else (None, False)


def read_socket_token(websocket: HTTPConnection) -> tuple[str | None, bool]:
    """A WebSocket's token: ``?token=`` first (a browser cannot set headers on a WebSocket), else as ``read_token``."""
    query = websocket.query_params.get("token")
    return (query, False) if query else read_token(websocket)


async def resolve_token(connection: HTTPConnection, token: str) -> tuple[Principal, TokenClaims] | None:
    """Who the token belongs to, or None when it is forged, expired or revoked, as the identity provider
    (``auth/identity.py``) says; raises ``Unavailable`` (503) when that provider cannot be asked."""
    return await resources_of(connection).identity.resolve(token)


async def optional_caller(request: Request) -> Caller | None:
    """The caller, resolved once per request (a second call returns the first answer)."""
    if CALLER_KEY not in request.scope:
        request.scope[CALLER_KEY] = await _resolve_caller(request)
    caller: Caller | None = request.scope[CALLER_KEY]
    return caller


async def _resolve_caller(request: Request) -> Caller | None:
    token, via_cookie = read_token(request)
    resolved = await resolve_token(request, token) if token else None
    if resolved is None:
        return None
    request.state.user_id = resolved[0].id
    return Caller(resolved[0], resolved[1], via_cookie)


async def current_caller(request: Request) -> Caller:
    caller = await optional_caller(request)
    if caller is None:
        raise AuthenticationFailed("Sign in first: the token is missing, expired or revoked.")
    return caller


async def current_user(request: Request) -> Principal:
    return (await current_caller(request)).user


async def admin_user(request: Request) -> Principal:
    user = await current_user(request)
    if not user.is_admin:
        raise Forbidden("Only admins may do this.")
    return user


# Each depends on the request alone and calls the next directly: one solving step per route, not four.
OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentUser = Annotated[Principal, Depends(current_user)]
AdminUser = Annotated[Principal, Depends(admin_user)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def no_store(response: Response) -> None:
    """For every reply that carries a token or sets an auth cookie: never cached (RFC 6749 section 5.1)."""
    response.headers["Cache-Control"] = "no-store"


NoStore = Depends(no_store)


def document_bearer(app: FastAPI, routers: list[APIRouter]) -> None:
    """Declare the bearer scheme (sign-in through ``/auth/login``) on every operation of ``routers`` that
    reads a token."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes[BEARER_SCHEME] = {"type": "oauth2", "flows": {"password": {"scopes": {}, "tokenUrl": "/auth/login"}}}
        for route in (r for router in routers for r in router.routes if isinstance(r, APIRoute)):
            need = _token_need(route.dependant)
            operations = schema["paths"].get(route.path_format, {})
            for method in route.methods or ():
                if need is not None and method.lower() in operations:
                    operations[method.lower()]["security"] = SECURITY[need]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


TOKEN_REQUIRERS = (current_caller, current_user, admin_user)
# A route that may read a token (OptionalCaller) also works without one: either requirement is met.
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "required": [{BEARER_SCHEME: []}],
    "optional": [{BEARER_SCHEME: []}, {}],
}


def _token_need(dependant: Dependant) -> str | None:
    """``required`` or ``optional`` when the route reads the caller's token, else None."""
    needs = set()
    for dependency in dependant.dependencies:
        if dependency.call in TOKEN_REQUIRERS:
            needs.add("required")
        elif dependency.call is optional_caller:
            needs.add("optional")
        elif (nested := _token_need(dependency)) is not None:
            needs.add(nested)
    return "required" if "required" in needs else next(iter(needs), None)

"""Who is calling: typed dependencies every route uses.

Tokens are read leniently (``Authorization: Bearer <t>``, a bare ``Authorization: <t>`` as PocketBase's SDK
sends it, or the ``access_token`` cookie) and enforced by ``CurrentUser``. A write authenticated by cookie must
come from this server's own origin or one in ``ALLOWED_ORIGINS`` (CSRF).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.auth.principal import Principal
from artboard.auth.service import Accounts
from artboard.config import Settings
from artboard.db import transaction
from artboard.errors import AuthenticationFailed, Forbidden
from artboard.kit.tokens import TokenClaims

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declares the bearer scheme in OpenAPI, so /docs has an Authorize button that signs in through /auth/login.
_docs_bearer = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with transaction(request.app.state.sessions) as session:
        yield session


async def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Db = Annotated[AsyncSession, Depends(get_db, scope="function")]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass(frozen=True)
class Caller:
    user: Principal
    claims: TokenClaims
    via_cookie: bool


def read_token(request: Request) -> tuple[str | None, bool]:
    """The presented token and whether it came from the cookie."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, rest = header.partition(" ")
        if not rest:
            return scheme, False
        return (rest.strip(), False) if scheme.lower() == "bearer" else (None, False)
    cookie = request.cookies.get(ACCESS_COOKIE)
    return (cookie, True) if cookie else (None, False)


async def optional_caller(
    request: Request,
    accounts: AccountsDep,
    _bearer: Annotated[str | None, Security(_docs_bearer)] = None,
) -> Caller | None:
    token, via_cookie = read_token(request)
    if not token:
        return None
    # Most requests repeat a recently verified token: only a miss opens a (read-only) database session.
    resolved = accounts.recall(token)
    if resolved is None:
        async with request.app.state.sessions() as db:
            resolved = await accounts.resolve_token(db, token)
    if resolved is None:
        return None
    if via_cookie and request.method not in SAFE_METHODS:
        check_origin(request, request.app.state.settings)
    request.state.user_id = resolved[0].id
    return Caller(resolved[0], resolved[1], via_cookie)


async def current_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise AuthenticationFailed("Sign in first: the token is missing, expired or revoked.")
    return caller


async def current_user(caller: Annotated[Caller, Depends(current_caller)]) -> Principal:
    return caller.user


async def admin_user(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    if not user.is_admin:
        raise Forbidden("Only admins may do this.")
    return user


OptionalCaller = Annotated[Caller | None, Depends(optional_caller)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
CurrentUser = Annotated[Principal, Depends(current_user)]
AdminUser = Annotated[Principal, Depends(admin_user)]


def check_origin(request: Request, settings: Settings) -> None:
    """Refuse a cookie-authenticated write sent from a page of a foreign origin."""
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return  # not a browser form or fetch: no ambient cookie risk worth refusing
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if origin.rstrip("/") not in trusted_origins(request, settings):
        raise Forbidden("Cross-site request refused: this origin is not allowed.")


def trusted_origins(request: Request, settings: Settings) -> set[str]:
    own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    origins = {own, *(o.rstrip("/") for o in settings.allowed_origins)}
    if settings.public_url:
        parts = urlsplit(settings.public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"

"""Account routes of seed 002 (bearer pair), seed 004 (cookies), seed 000 (check_auth) and password change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from artboard.auth.deps import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    AccountsDep,
    CurrentCaller,
    CurrentUser,
    Db,
    OptionalCaller,
    SettingsDep,
    check_origin,
    client_ip,
)
from artboard.auth.schemas import (
    ClientId,
    GpuEndpointRequest,
    LoginRequest,
    PasswordChangeRequest,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
    UserOut,
)
from artboard.auth.service import IssuedTokens
from artboard.config import Settings
from artboard.errors import AuthenticationFailed, Forbidden
from artboard.kit.body import parse_as, read_data

router = APIRouter(tags=["accounts"])

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                }
            },
        },
    }
}


def _pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


def _set_cookies(response: Response, tokens: IssuedTokens, settings: Settings) -> None:
    response.set_cookie(
        ACCESS_COOKIE,
        tokens.access_token,
        max_age=tokens.expires_in,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=settings.refresh_token_minutes * 60,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/api/auth",
    )


def _clear_cookies(response: Response, settings: Settings) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)
    response.delete_cookie(
        REFRESH_COOKIE, path="/api/auth", httponly=True, samesite="lax", secure=settings.cookie_secure
    )


# ---- seed 002: bearer access + refresh pair ----------------------------------------------------------


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterRequest, db: Db, accounts: AccountsDep) -> Any:
    """Create an account (email, password, optional GPU endpoint)."""
    endpoint = str(body.gpu_endpoint) if body.gpu_endpoint else None
    return await accounts.register(db, str(body.email), body.password, username=body.username, gpu_endpoint=endpoint)


@router.post("/auth/login", response_model=TokenPair, openapi_extra=_LOGIN_BODY)
async def login(request: Request, db: Db, accounts: AccountsDep) -> TokenPair:
    """Sign in with JSON `{email, password}` or an OAuth2 password form; returns an access/refresh pair."""
    data = await read_data(request)
    if "email" not in data and "username" in data:
        data = {**data, "email": data["username"]}
    credentials = parse_as(LoginRequest, data)
    user = await accounts.authenticate(db, str(credentials.email), credentials.password, client_ip(request))
    return _pair(await accounts.open_session(db, user))


@router.post("/auth/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, db: Db, accounts: AccountsDep) -> TokenPair:
    """Trade a refresh token for a new pair; the used one stops working."""
    return _pair(await accounts.rotate(db, body.refresh_token))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, db: Db, accounts: AccountsDep) -> Response:
    """End the session of this refresh token (its access tokens stop working too)."""
    await accounts.end_session_by_refresh_token(db, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/auth/gpu-endpoint", response_model=UserOut)
async def set_gpu_endpoint(body: GpuEndpointRequest, user: CurrentUser, db: Db, accounts: AccountsDep) -> Any:
    """Set (or clear with null) the URL of the user's own GPU server."""
    endpoint = str(body.gpu_endpoint) if body.gpu_endpoint else None
    return await accounts.set_gpu_endpoint(db, user.id, endpoint)


# ---- seed 004: HttpOnly cookies ----------------------------------------------------------------------


@router.post("/api/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register_cookie_flow(body: RegisterRequest, db: Db, accounts: AccountsDep) -> Any:
    """Create an account (email, password, optional username)."""
    return await accounts.register(db, str(body.email), body.password, username=body.username)


@router.post("/api/auth/login", response_model=UserOut)
async def login_cookie_flow(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: Db,
    accounts: AccountsDep,
    settings: SettingsDep,
) -> Any:
    """Sign in; sets the HttpOnly `access_token` cookie (and a refresh cookie) and returns the user."""
    user = await accounts.authenticate(db, str(body.email), body.password, client_ip(request))
    _set_cookies(response, await accounts.open_session(db, user), settings)
    return user


@router.post("/api/auth/refresh", response_model=UserOut)
async def refresh_cookie_flow(
    request: Request, response: Response, db: Db, accounts: AccountsDep, settings: SettingsDep
) -> Any:
    """Renew the cookies from the refresh cookie (rotated like `/auth/refresh`)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise AuthenticationFailed("There is no refresh cookie; sign in again.")
    check_origin(request, settings)
    tokens = await accounts.rotate(db, token)
    resolved = await accounts.resolve_token(db, tokens.access_token)
    if resolved is None:
        raise AuthenticationFailed("Sign in again.")
    _set_cookies(response, tokens, settings)
    return resolved[0]


@router.post("/api/auth/logout")
async def logout_cookie_flow(
    request: Request,
    response: Response,
    caller: OptionalCaller,
    db: Db,
    accounts: AccountsDep,
    settings: SettingsDep,
) -> dict[str, str]:
    """Clear both cookies and end the session they belong to."""
    if caller is not None:
        await accounts.end_session(db, caller.claims.session_id)
    elif token := request.cookies.get(REFRESH_COOKIE):
        check_origin(request, settings)
        await accounts.end_session_by_refresh_token(db, token)
    _clear_cookies(response, settings)
    return {"message": "Signed out."}


@router.get("/api/auth/me", response_model=UserOut)
async def me(user: CurrentUser) -> Any:
    """The signed-in user."""
    return user


@router.post("/api/auth/password", response_model=TokenPair)
async def change_password(
    body: PasswordChangeRequest,
    caller: CurrentCaller,
    response: Response,
    db: Db,
    accounts: AccountsDep,
    settings: SettingsDep,
) -> TokenPair:
    """Change the password; every earlier token of the user stops working and a fresh pair is returned."""
    user = await accounts.change_password(db, caller.user.id, body.old_password, body.new_password)
    tokens = await accounts.open_session(db, user, caller.claims.collection_id)
    if caller.via_cookie:
        _set_cookies(response, tokens, settings)
    return _pair(tokens)


# ---- seed 000: gateway check ---------------------------------------------------------------------------


@router.get("/api/check_auth", response_model=ClientId)
async def check_auth(caller: OptionalCaller) -> ClientId:
    """`{client_id: <username>}` for a valid user token, else 403."""
    if caller is None:
        raise Forbidden("Only auth records can access this endpoint")
    return ClientId(client_id=caller.user.username)

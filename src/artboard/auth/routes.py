"""Account routes of seed 002 (bearer pair), seed 004 (cookies), seed 000 (check_auth) and password change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError

from artboard.auth.deps import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    SECURITY,
    CurrentCaller,
    CurrentUser,
    NoStore,
    OptionalCaller,
    client_ip,
    optional_caller,
)
from artboard.auth.schemas import (
    ClientId,
    GpuEndpointOut,
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
from artboard.deps import AccountsDep, Db, SettingsDep
from artboard.errors import AuthenticationFailed, Forbidden, ValidationFailed
from artboard.kit.body import parse_as, read_data
from artboard.kit.plain_route import PlainRoute
from artboard.openapi import BODY, TEXT, errors, model_schema, object_schema, request_body

router = APIRouter(tags=["accounts"])

# JSON, or the OAuth2 password form the docs' Authorize button posts (its `username` is the email).
_OAUTH2_FORM = object_schema(
    {"username": {"type": "string", "format": "email"}, "password": TEXT}, ["username", "password"]
)
_LOGIN_BODY = request_body(
    {
        "application/json": model_schema(LoginRequest),
        "application/x-www-form-urlencoded": _OAUTH2_FORM,
        "multipart/form-data": _OAUTH2_FORM,
    }
)
_REGISTER_ERRORS = errors(*BODY, 409, notes={409: "An account with this email or username exists."})
_SIGN_IN_ERRORS = errors(*BODY, 401, 403, 429, notes={401: "The email or password is wrong."})


def _pair(tokens: IssuedTokens) -> TokenPair:
    return TokenPair(access_token=tokens.access_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


def set_auth_cookies(response: Response, tokens: IssuedTokens, settings: Settings) -> None:
    """Seed 004's HttpOnly pair, for every route that signs a browser in (sign-in, refresh, first run)."""
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


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=GpuEndpointOut,
    responses=_REGISTER_ERRORS,
    dependencies=[NoStore],
)
async def register(body: RegisterRequest, db: Db, accounts: AccountsDep, settings: SettingsDep) -> GpuEndpointOut:
    """Create an account (email, password, optional GPU endpoint: its signing secret is answered this once)."""
    endpoint = str(body.gpu_endpoint) if body.gpu_endpoint else None
    user, secret = await accounts.register_with_gpu_endpoint(
        db,
        str(body.email),
        body.password,
        username=body.username,
        gpu_endpoint=endpoint,
        gpu_allowlist=settings.gpu_endpoint_allowlist,
    )
    return GpuEndpointOut(**UserOut.model_validate(user).model_dump(), signing_secret=secret)


@router.post(
    "/auth/login",
    response_model=TokenPair,
    openapi_extra=_LOGIN_BODY,
    responses=_SIGN_IN_ERRORS,
    dependencies=[NoStore],
)
async def login(request: Request, db: Db, accounts: AccountsDep) -> TokenPair:
    """Sign in with JSON `{email, password}` or an OAuth2 password form; returns an access/refresh pair."""
    credentials = parse_as(LoginRequest, await _login_fields(request))
    user = await accounts.authenticate(db, str(credentials.email), credentials.password, client_ip(request))
    return _pair(await accounts.open_session(db, user))


_LOGIN_BODY_HINT = 'Send JSON {"email", "password"} or an OAuth2 form (username, password).'
_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def _login_fields(request: Request) -> dict[str, Any]:
    """The login body as ``LoginRequest`` fields; a body that fails says what to send rather than ``email``."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = media_type in _FORM_TYPES or media_type == "application/json" or media_type.endswith("+json")
    try:
        data = await read_data(request)
    except ValidationFailed:
        if declared:
            raise
        # Another type, or none (then read as JSON): what failed to parse was not meant as this route's body.
        raise ValidationFailed(_LOGIN_BODY_HINT) from None
    if not media_type and not data:
        raise ValidationFailed(_LOGIN_BODY_HINT)
    if "email" in data:
        return data
    if "username" in data:
        return {**data, "email": data["username"]}
    if media_type in _FORM_TYPES:
        missing = "Field required (the OAuth2 form signs in with username=<email>)"
        raise RequestValidationError([{"type": "missing", "loc": ("body", "username"), "msg": missing}])
    return data


@router.post("/auth/refresh", response_model=TokenPair, responses=errors(*BODY, 401), dependencies=[NoStore])
async def refresh(body: RefreshRequest, db: Db, accounts: AccountsDep) -> TokenPair:
    """Trade a refresh token for a new pair; the used one stops working."""
    return _pair(await accounts.rotate(db, body.refresh_token))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(*BODY))
async def logout(body: RefreshRequest, db: Db, accounts: AccountsDep) -> Response:
    """End the session of this refresh token (its access tokens stop working too)."""
    await accounts.end_session_by_refresh_token(db, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/auth/gpu-endpoint",
    response_model=GpuEndpointOut,
    responses=errors(*BODY, 401, 403),
    dependencies=[NoStore],
)
async def set_gpu_endpoint(
    body: GpuEndpointRequest, user: CurrentUser, db: Db, accounts: AccountsDep, settings: SettingsDep
) -> GpuEndpointOut:
    """Set (or clear with null) the URL of the user's own GPU server; answers the secret its calls are signed with."""
    endpoint = str(body.gpu_endpoint) if body.gpu_endpoint else None
    saved, secret = await accounts.set_gpu_endpoint(db, user.id, endpoint, settings.gpu_endpoint_allowlist)
    return GpuEndpointOut(**UserOut.model_validate(saved).model_dump(), signing_secret=secret)


# ---- seed 004: HttpOnly cookies ----------------------------------------------------------------------


@router.post(
    "/api/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut, responses=_REGISTER_ERRORS
)
async def register_cookie_flow(body: RegisterRequest, db: Db, accounts: AccountsDep) -> Any:
    """Create an account (email, password, optional username)."""
    return await accounts.register(db, str(body.email), body.password, username=body.username)


@router.post("/api/auth/login", response_model=UserOut, responses=_SIGN_IN_ERRORS, dependencies=[NoStore])
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
    set_auth_cookies(response, await accounts.open_session(db, user), settings)
    return user


@router.post("/api/auth/refresh", response_model=UserOut, responses=errors(401, 403), dependencies=[NoStore])
async def refresh_cookie_flow(
    request: Request, response: Response, db: Db, accounts: AccountsDep, settings: SettingsDep
) -> Any:
    """Renew the cookies from the refresh cookie (rotated like `/auth/refresh`)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise AuthenticationFailed("There is no refresh cookie; sign in again.")
    tokens = await accounts.rotate(db, token)
    resolved = await accounts.resolve_token(db, tokens.access_token)
    if resolved is None:
        raise AuthenticationFailed("Sign in again.")
    set_auth_cookies(response, tokens, settings)
    return resolved[0]


@router.post("/api/auth/logout", responses=errors(403), dependencies=[NoStore])
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
        await accounts.end_session_by_refresh_token(db, token)
    _clear_cookies(response, settings)
    return {"message": "Signed out."}


@router.get("/api/auth/me", response_model=UserOut, responses=errors(401))
async def me(user: CurrentUser) -> Any:
    """The signed-in user."""
    return user


@router.post(
    "/api/auth/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403),
    dependencies=[NoStore],
)
async def logout_everywhere(
    user: CurrentUser, response: Response, db: Db, accounts: AccountsDep, settings: SettingsDep
) -> None:
    """Sign out everywhere: every session of the user ends and every token issued so far stops working; clears
    the caller's cookies."""
    await accounts.end_every_session(db, user.id)
    _clear_cookies(response, settings)


@router.post("/api/auth/password", response_model=TokenPair, responses=errors(*BODY, 401, 403), dependencies=[NoStore])
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
        set_auth_cookies(response, tokens, settings)
    return _pair(tokens)


# ---- seed 000: gateway check ---------------------------------------------------------------------------


async def check_auth(request: Request) -> Response:
    """`{client_id: <username>}` for a valid user token (a PocketBase user's record username, else email), else 403."""
    caller = await optional_caller(request)
    if caller is None:
        raise Forbidden("Only auth records can access this endpoint")
    return Response(ClientId(client_id=caller.user.client_id).model_dump_json(), media_type="application/json")


# A plain route (no dependency solving): a gateway asks it before it forwards each message.
router.add_api_route(
    "/api/check_auth",
    check_auth,
    methods=["GET"],
    route_class_override=PlainRoute,
    response_model=ClientId,
    responses=errors(403, notes={403: "Not signed in."}),
    openapi_extra={"security": SECURITY["optional"]},
)

"""PocketBase-compatible record auth for the collections ``users`` and ``generatio_users``.

Both names are views of Artboard's one user base, so a PocketBase SDK client and a seed 002/004 client
share accounts. Replies copy PocketBase v0.40's shapes, messages and status codes (its SDK reads them).
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import EmailStr, TypeAdapter, ValidationError

from artboard.auth.deps import NoStore, OptionalCaller, client_ip
from artboard.auth.principal import Principal
from artboard.deps import AccountsDep, Db
from artboard.errors import AuthenticationFailed, Conflict, Forbidden, PocketBaseError
from artboard.kit.body import BodyError, read_body
from artboard.kit.tokens import USERS_COLLECTION_ID
from artboard.models import User
from artboard.openapi import TEXT, object_schema, pocketbase_errors, read_body_fields

COLLECTIONS = {
    "users": USERS_COLLECTION_ID,
    # PocketBase names collections made through its API "pbc_" + crc32(type + name).
    "generatio_users": f"pbc_{zlib.crc32(b'authgeneratio_users')}",
}
MIN_PASSWORD, MAX_PASSWORD = 8, 128
router = APIRouter(
    prefix="/api/collections/{collection}",
    tags=["pocketbase"],
    responses=pocketbase_errors(
        400,
        404,
        notes={
            400: "A path or query value holds a NUL character.",
            404: "No such collection, or no record of the caller's with this id.",
        },
    ),
)
# Any name is read (an unknown one is PocketBase's 404); the document lists the two that exist.
Collection = Annotated[str, Path(json_schema_extra={"enum": list(COLLECTIONS)})]
_PASSWORD = {"type": "string", "minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}
_NEW_RECORD = object_schema(
    {"email": {"type": "string", "format": "email"}, "password": _PASSWORD, "passwordConfirm": _PASSWORD},
    ["email", "password", "passwordConfirm"],
)
_CREDENTIALS = object_schema(
    {"identity": {**TEXT, "description": "The email."}, "password": TEXT}, ["identity", "password"]
)
_REFUSED = "The body could not be read, or a field was refused: `data` names each field and why."
_email = TypeAdapter(EmailStr)


def _collection_id(collection: str) -> str:
    if collection not in COLLECTIONS:
        raise PocketBaseError(404, "Missing or invalid collection context.")
    return COLLECTIONS[collection]


def _pb_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def record(user: User | Principal, collection: str, *, show_email: bool = True) -> dict[str, Any]:
    """A user as a PocketBase auth record; the email is shown only to its owner (emailVisibility is off)."""
    shown = {
        "collectionId": COLLECTIONS[collection],
        "collectionName": collection,
        "id": user.id,
        "email": user.email,
        "emailVisibility": False,
        "verified": False,
        "name": user.username,
        "username": user.username,
        "avatar": "",
        "created": _pb_time(user.created),
        "updated": _pb_time(user.updated),
    }
    if not show_email:
        del shown["email"]
    return shown


def _field(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


async def _body(request: Request) -> dict[str, Any]:
    try:
        return await read_body(request)
    except BodyError as exc:
        message = exc.message if exc.reason == "unsupported" else "An error occurred while loading the submitted data."
        raise PocketBaseError(400, message) from None


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


@router.post(
    "/records",
    openapi_extra=read_body_fields(_NEW_RECORD),
    responses=pocketbase_errors(400, 413, notes={400: _REFUSED}),
)
async def create_record(collection: Collection, request: Request, db: Db, accounts: AccountsDep) -> dict[str, Any]:
    """Register (PocketBase `create`): `{email, password, passwordConfirm}`; answers the record, no token."""
    _collection_id(collection)
    try:
        data = await read_body(request)
    except BodyError as exc:
        message = exc.message if exc.reason == "unsupported" else "Something went wrong while processing your request."
        raise PocketBaseError(400, message) from None
    # PocketBase validates in stages and reports only the first stage that fails.
    for stage in (_password_pair_errors, _field_errors):
        errors = stage(data)
        if errors:
            raise PocketBaseError(400, "Failed to create record.", errors)
    email, password = data["email"], data["password"]
    try:
        user = await accounts.register(db, email, password)
    except Conflict:
        raise PocketBaseError(
            400, "Failed to create record.", {"email": _field("validation_not_unique", "Value must be unique.")}
        ) from None
    return record(user, collection, show_email=False)


def _password_pair_errors(data: dict[str, Any]) -> dict[str, Any]:
    password, confirm = data.get("password"), data.get("passwordConfirm")
    errors: dict[str, Any] = {}
    if not password:
        errors["password"] = _field("validation_required", "Cannot be blank.")
    if not confirm:
        errors["passwordConfirm"] = _field("validation_required", "Cannot be blank.")
    elif confirm != password:
        errors["passwordConfirm"] = _field("validation_values_mismatch", "Values don't match.")
    return errors


def _field_errors(data: dict[str, Any]) -> dict[str, Any]:
    email, password = data.get("email"), data.get("password")
    errors: dict[str, Any] = {}
    if email in (None, ""):
        errors["email"] = _field("validation_required", "Cannot be blank.")
    elif not isinstance(email, str) or not _is_email(email):
        errors["email"] = _field("validation_is_email", "Must be a valid email address.")
    if not isinstance(password, str):
        errors["password"] = _field("validation_invalid_value", "Invalid value.")
    elif len(password) < MIN_PASSWORD:
        errors["password"] = _field("validation_min_text_constraint", f"Must be at least {MIN_PASSWORD} character(s).")
    elif len(password) > MAX_PASSWORD:
        errors["password"] = _field("validation_max_text_constraint", f"Must be less than {MAX_PASSWORD} character(s).")
    return errors


def _is_email(value: str) -> bool:
    if value != value.strip():
        return False
    try:
        _email.validate_python(value)
    except ValidationError:
        return False
    return True


@router.post(
    "/auth-with-password",
    openapi_extra=read_body_fields(_CREDENTIALS),
    responses=pocketbase_errors(400, 413, 429, notes={400: _REFUSED + " A wrong email or password is a 400 too."}),
    dependencies=[NoStore],
)
async def auth_with_password(collection: Collection, request: Request, db: Db, accounts: AccountsDep) -> dict[str, Any]:
    """Sign in with `{identity, password}` (identity is the email); answers `{token, record}`."""
    collection_id = _collection_id(collection)
    data = await _body(request)
    if any(not isinstance(data.get(name, ""), str) for name in ("identity", "password")):
        raise PocketBaseError(400, "An error occurred while loading the submitted data.")
    identity, password = _text(data, "identity").strip(), _text(data, "password")
    missing = {
        name: _field("validation_required", "Cannot be blank.")
        for name, value in (("identity", identity), ("password", password))
        if not value
    }
    if missing:
        raise PocketBaseError(400, "An error occurred while validating the submitted data.", missing)
    try:
        user = await accounts.authenticate(db, identity, password, client_ip(request))
    except (AuthenticationFailed, Forbidden):
        raise PocketBaseError(400, "Failed to authenticate.") from None
    tokens = await accounts.open_session(db, user, collection_id)
    return {"token": tokens.access_token, "record": record(user, collection)}


@router.post("/auth-refresh", responses=pocketbase_errors(401), dependencies=[NoStore])
async def auth_refresh(collection: Collection, caller: OptionalCaller, db: Db, accounts: AccountsDep) -> dict[str, Any]:
    """A new token for the same session (the SDK's `authRefresh`)."""
    _collection_id(collection)
    if caller is None:
        raise PocketBaseError(401, "The request requires valid record authorization token.")
    user, claims = caller.user, caller.claims
    # One user base: a token of either collection refreshes into a token of the collection asked for.
    claims = replace(claims, collection_id=COLLECTIONS[collection])
    return {"token": await accounts.refresh_access(db, user.id, claims), "record": record(user, collection)}


@router.get("/auth-methods")
async def auth_methods(collection: Collection, fields: str | None = None) -> dict[str, Any]:
    """Which sign-in methods this collection offers: password with email as identity."""
    _collection_id(collection)
    methods: dict[str, Any] = {
        "password": {"identityFields": ["email"], "enabled": True},
        "oauth2": {"providers": [], "enabled": False},
        "mfa": {"enabled": False, "duration": 0},
        "otp": {"enabled": False, "duration": 0},
        # Kept by PocketBase for SDKs older than 0.23.
        "authProviders": [],
        "usernamePassword": False,
        "emailPassword": True,
    }
    if fields:
        wanted = {name.strip() for name in fields.split(",")}
        methods = {name: value for name, value in methods.items() if name in wanted}
    return methods


@router.get("/records/{record_id}")
async def view_record(collection: Collection, record_id: str, caller: OptionalCaller) -> dict[str, Any]:
    """The caller's own record; any other id is not found."""
    if collection not in COLLECTIONS:
        raise PocketBaseError(404, "Missing collection context.")
    if caller is None or caller.user.id != record_id:
        raise PocketBaseError(404, "The requested resource wasn't found.")
    return record(caller.user, collection)

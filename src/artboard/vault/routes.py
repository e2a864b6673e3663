"""Seed 001's key vault and key session routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from artboard.auth.deps import CurrentUser, NoStore, client_ip
from artboard.deps import Db, VaultDep
from artboard.openapi import BODY, errors
from artboard.vault.schemas import (
    SESSION_HEADER,
    Done,
    PasswordGiven,
    SessionOpened,
    TokenSetup,
    TokenStatusOut,
    Verified,
)

router = APIRouter(tags=["vault"], responses=errors(401))
_WRONG_PASSWORD = {401: "Sign in first; or the vault password is wrong."}
_THROTTLED = {429: "Too many wrong vault passwords: retry after `Retry-After` seconds."}


@router.post("/api/custom/tokens/setup", response_model=Done, responses=errors(*BODY, 403, 409))
async def setup_tokens(body: TokenSetup, user: CurrentUser, db: Db, vault: VaultDep) -> Done:
    """Store the FAL key (and an OpenAI key) encrypted under a vault password, replacing earlier keys and
    ending the sessions that held them."""
    await vault.setup(db, user.id, body.password, body.keys())
    return Done(message="FAL token setup successfully")


@router.post("/api/custom/tokens/verify", response_model=Verified, responses=errors(*BODY, 403, 429, notes=_THROTTLED))
async def verify_tokens(body: PasswordGiven, request: Request, user: CurrentUser, db: Db, vault: VaultDep) -> Verified:
    """Whether keys are stored and the password decrypts them (a wrong password counts toward the throttle)."""
    has_token, can_decrypt = await vault.verify(db, user.id, body.password, client_ip(request))
    return Verified(has_token=has_token, can_decrypt=can_decrypt)


@router.post(
    "/api/custom/auth/create-session",
    response_model=SessionOpened,
    dependencies=[NoStore],
    responses=errors(
        *BODY,
        401,
        403,
        404,
        429,
        notes={**_WRONG_PASSWORD, **_THROTTLED, 404: "No keys are stored yet (`/api/custom/tokens/setup`)."},
    ),
)
async def create_session(
    body: PasswordGiven, request: Request, user: CurrentUser, db: Db, vault: VaultDep
) -> SessionOpened:
    """Decrypt the keys with the vault password and hold them for a key session (24 hours by default)."""
    opened = await vault.open_session(db, user.id, body.password, client_ip(request))
    return SessionOpened(session_id=opened.session_id, expires_at=opened.expires_at)


@router.delete(
    "/api/custom/auth/session",
    response_model=Done,
    responses=errors(403, 404, 422, notes={404: "No open key session of the caller has this id."}),
)
async def delete_session(
    session_id: Annotated[str, Header(alias=SESSION_HEADER, min_length=1, max_length=128)],
    user: CurrentUser,
    vault: VaultDep,
) -> Done:
    """End a key session: its decrypted keys are forgotten at once (on every instance, with Redis)."""
    await vault.end_session(user.id, session_id)
    return Done(message="Session deleted successfully")


@router.get("/api/custom/auth/token-status", response_model=TokenStatusOut)
async def token_status(user: CurrentUser, db: Db, vault: VaultDep) -> TokenStatusOut:
    """Whether keys are stored, whether a key session is open, and so whether to ask for the password again."""
    status = await vault.status(db, user.id)
    return TokenStatusOut(
        has_token=status.has_token, has_active_session=status.has_active_session, requires_login=status.requires_login
    )

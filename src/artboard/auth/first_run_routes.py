"""The first-run route: the studio's create-the-first-admin form posts here with the token of the link
``artboard serve`` printed (see ``auth/first_run.py``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import EmailStr, Field

from artboard.auth import first_run
from artboard.auth.deps import NoStore
from artboard.auth.routes import set_auth_cookies
from artboard.auth.schemas import Password, StrictModel, Username, UserOut
from artboard.deps import AccountsDep, Db, SettingsDep
from artboard.openapi import BODY, errors

router = APIRouter(tags=["admin"])


class FirstRunRequest(StrictModel):
    token: Annotated[str, Field(min_length=1, max_length=256, description="The token of the first-run link.")]
    email: EmailStr
    password: Password
    username: Username | None = None


@router.post(
    "/api/admin/first-run",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    dependencies=[NoStore],
    responses=errors(
        *BODY,
        401,
        403,
        409,
        notes={
            401: "The token is wrong, already used or expired.",
            403: "Sent from a foreign page (it would sign the visitor in).",
            409: "An admin exists already, or an account with this email or username.",
        },
    ),
)
async def create_first_admin(
    body: FirstRunRequest, response: Response, db: Db, accounts: AccountsDep, settings: SettingsDep
) -> Any:
    """Create the first admin with the one-time token `artboard serve` printed; signs them in (cookies)."""
    user = await first_run.create_first_admin(db, accounts, body.token, str(body.email), body.password, body.username)
    set_auth_cookies(response, await accounts.open_session(db, user), settings)
    return user

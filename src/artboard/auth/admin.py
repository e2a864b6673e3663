"""Admin routes: list users, change a user's role or disable them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from artboard.auth import repository
from artboard.auth.deps import AdminUser
from artboard.auth.schemas import AdminUserPatch, UserOut
from artboard.deps import AccountsDep, Db
from artboard.kit.pagination import Page, Pagination
from artboard.openapi import ADMIN_ONLY, BODY, errors

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ADMIN_ONLY)


@router.get("/users", response_model=Page[UserOut])
async def list_users(_admin: AdminUser, db: Db, pagination: Pagination) -> Page[UserOut]:
    """All users, oldest first, paginated."""
    users, total = await repository.list_users(db, pagination.offset, pagination.per_page)
    return Page.of([UserOut.model_validate(u) for u in users], pagination, total)


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=errors(*BODY, 404, 409, notes={409: "An admin cannot disable or demote their own account."}),
)
async def update_user(user_id: str, body: AdminUserPatch, admin: AdminUser, db: Db, accounts: AccountsDep) -> Any:
    """Change a user's role or disabled flag; disabling ends all of their sessions."""
    return await accounts.admin_update(db, admin.id, user_id, body.role, body.disabled)

"""Admin routes: list users, change a user's role, disable them, set their monthly budget."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from artboard.auth import repository
from artboard.auth.deps import AdminUser
from artboard.auth.schemas import AdminUserOut, AdminUserPatch
from artboard.deps import AccountsDep, Db
from artboard.kit.pagination import Page, Pagination
from artboard.openapi import ADMIN_ONLY, BODY, errors

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=ADMIN_ONLY)


@router.get("/users", response_model=Page[AdminUserOut])
async def list_users(_admin: AdminUser, db: Db, pagination: Pagination) -> Page[AdminUserOut]:
    """All users, oldest first, paginated."""
    users, total = await repository.list_users(db, pagination.offset, pagination.per_page)
    return Page.of([AdminUserOut.model_validate(u) for u in users], pagination, total)


@router.patch(
    "/users/{user_id}",
    response_model=AdminUserOut,
    responses=errors(*BODY, 404, 409, notes={409: "An admin cannot disable or demote their own account."}),
)
async def update_user(user_id: str, body: AdminUserPatch, admin: AdminUser, db: Db, accounts: AccountsDep) -> Any:
    """Change a user's role, disabled flag or monthly budget; disabling ends all of their sessions."""
    return await accounts.admin_update(db, admin.id, user_id, body.model_dump(exclude_unset=True))

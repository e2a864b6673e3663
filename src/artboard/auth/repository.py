"""All SQL of the account domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.models import AuthSession, RefreshToken, User


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    result = await db.execute(select(User).where(User.email_key == email.lower()))
    return result.scalar_one_or_none()


async def user_by_id(db: AsyncSession, user_id: str) -> User | None:
    return await db.get(User, user_id)


async def user_by_external_id(db: AsyncSession, external_id: str) -> User | None:
    result = await db.execute(select(User).where(User.external_id == external_id))
    return result.scalar_one_or_none()


async def username_taken(db: AsyncSession, username: str) -> bool:
    result = await db.execute(select(User.id).where(func.lower(User.username) == username.lower()))
    return result.first() is not None


async def user_with_session(db: AsyncSession, user_id: str, session_id: str) -> tuple[User, AuthSession] | None:
    """The user behind an access token and the session it names, in one round trip."""
    result = await db.execute(
        select(User, AuthSession)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == session_id)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def refresh_token_by_hash(db: AsyncSession, token_hash: str) -> tuple[RefreshToken, AuthSession] | None:
    result = await db.execute(
        select(RefreshToken, AuthSession)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(RefreshToken.token_hash == token_hash)
    )
    row = result.first()
    return (row[0], row[1]) if row else None


async def mark_refresh_token_used(db: AsyncSession, token_id: str, now: datetime) -> bool:
    """Claim a refresh token exactly once, even when two requests race with the same token."""
    result = await db.execute(
        update(RefreshToken)
        .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def revoke_user_sessions(db: AsyncSession, user_id: str, now: datetime) -> None:
    await db.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def admin_exists(db: AsyncSession) -> bool:
    found = await db.scalar(select(User.id).where(User.role == "admin").limit(1))
    return found is not None


async def list_users(db: AsyncSession, offset: int, limit: int) -> tuple[list[User], int]:
    total = (await db.execute(select(func.count()).select_from(User))).scalar_one()
    result = await db.execute(select(User).order_by(User.created, User.id).offset(offset).limit(limit))
    return list(result.scalars()), total

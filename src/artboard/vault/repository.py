"""All SQL of the key vault; every query is filtered by owner."""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.models import VaultKey


async def sealed_keys(db: AsyncSession, owner_id: str) -> dict[str, str]:
    """The owner's sealed keys by provider."""
    rows = await db.execute(select(VaultKey.provider, VaultKey.sealed).where(VaultKey.owner_id == owner_id))
    return {row.provider: row.sealed for row in rows}


async def has_keys(db: AsyncSession, owner_id: str) -> bool:
    return bool((await db.execute(select(exists().where(VaultKey.owner_id == owner_id)))).scalar())


async def replace_keys(db: AsyncSession, owner_id: str, sealed: dict[str, str]) -> None:
    """The owner's keys become exactly ``sealed`` (provider -> sealed text)."""
    await db.execute(delete(VaultKey).where(VaultKey.owner_id == owner_id))
    db.add_all(VaultKey(owner_id=owner_id, provider=provider, sealed=text) for provider, text in sealed.items())
    await db.flush()

"""All SQL of blobs (stored bytes shared by a user's images); every lookup by content is filtered by owner."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.models import Blob, Image


async def blob_by_hash(db: AsyncSession, owner_id: str, sha256: str, *, fresh: bool = False) -> Blob | None:
    query = select(Blob).where(Blob.owner_id == owner_id, Blob.sha256 == sha256)
    if fresh:
        query = query.execution_options(populate_existing=True)
    return (await db.execute(query)).scalar_one_or_none()


async def stored_bytes(db: AsyncSession, owner_id: str) -> int:
    query = select(func.coalesce(func.sum(Blob.stored_bytes), 0)).where(Blob.owner_id == owner_id)
    return int((await db.execute(query)).scalar_one())


async def set_state(db: AsyncSession, blob_id: str, state: str) -> None:
    await db.execute(_SET_STATE, {"blob_id": blob_id, "state": state})


async def make_ready(db: AsyncSession, blob_id: str, stored_bytes: int) -> None:
    """The blob's files are all written: it counts at its full size and may be used."""
    await db.execute(_MAKE_READY, {"blob_id": blob_id, "stored_bytes": stored_bytes})


# On the table, built once: a job's every output passes here, and the ORM's UPDATE costs more than running it.
_BLOBS = cast(Table, Blob.__table__)
_SET_STATE = update(_BLOBS).where(_BLOBS.c.id == bindparam("blob_id")).values(state=bindparam("state"))
_MAKE_READY = (
    update(_BLOBS)
    .where(_BLOBS.c.id == bindparam("blob_id"))
    .values(state="ready", stored_bytes=bindparam("stored_bytes"))
)


async def still_used(db: AsyncSession, blob_ids: set[str]) -> set[str]:
    """Those of ``blob_ids`` some image (of any state, trashed included) still points at."""
    return set((await db.execute(select(Image.blob_id).where(Image.blob_id.in_(blob_ids)))).scalars())


async def blobs(db: AsyncSession, blob_ids: set[str]) -> list[Blob]:
    return list((await db.execute(select(Blob).where(Blob.id.in_(blob_ids)))).scalars())


async def mark_stale_pending(db: AsyncSession, created_before: datetime) -> None:
    stale = (Blob.state == "pending") & (Blob.created < created_before)
    await db.execute(update(Blob).where(stale).values(state="deleting"))


async def deleting_ids(db: AsyncSession) -> list[str]:
    return list((await db.execute(select(Blob.id).where(Blob.state == "deleting"))).scalars())

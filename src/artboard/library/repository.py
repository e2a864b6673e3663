"""All SQL of the gallery; every query is filtered by owner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.db import upsert
from artboard.models import Blob, CostEntry, Folder, Image, Preference, User
from artboard.models.base import new_id, utcnow


async def folder(db: AsyncSession, owner_id: str, folder_id: str, *, trashed: bool = False) -> Folder | None:
    query = select(Folder).where(Folder.id == folder_id, Folder.owner_id == owner_id)
    query = query.where(Folder.deleted_at.is_not(None) if trashed else Folder.deleted_at.is_(None))
    return (await db.execute(query)).scalar_one_or_none()


async def folders(db: AsyncSession, owner_id: str) -> list[Folder]:
    query = select(Folder).where(Folder.owner_id == owner_id, Folder.deleted_at.is_(None))
    return list((await db.execute(query.order_by(Folder.created, Folder.id))).scalars())


async def folders_page(db: AsyncSession, owner_id: str, offset: int, limit: int) -> tuple[list[Folder], int]:
    condition = (Folder.owner_id == owner_id) & Folder.deleted_at.is_(None)
    total = (await db.execute(select(func.count()).select_from(Folder).where(condition))).scalar_one()
    rows = await db.execute(
        select(Folder).where(condition).order_by(Folder.created, Folder.id).offset(offset).limit(limit)
    )
    return list(rows.scalars()), total


async def hold_folders(db: AsyncSession, owner_id: str) -> None:
    """Keep the owner's other folder moves out until this transaction ends, so a check of the tree (no cycle,
    not too deep) reads what is really there: a write that changes nothing takes the user's row lock on
    PostgreSQL and the write lock on SQLite (whose driver runs a SELECT outside the transaction)."""
    await db.execute(update(User).where(User.id == owner_id).values(updated=User.updated))


async def parent_ids(db: AsyncSession, owner_id: str) -> dict[str, str | None]:
    """Every folder of the owner (trashed included) and its parent: enough to walk the tree in memory."""
    rows = await db.execute(select(Folder.id, Folder.parent_id).where(Folder.owner_id == owner_id))
    return {row.id: row.parent_id for row in rows}


async def image(db: AsyncSession, owner_id: str, image_id: str, *, trashed: bool = False) -> tuple[Image, Blob] | None:
    row = (await db.execute(_IMAGE[trashed], {"image_id": image_id, "owner_id": owner_id})).first()
    return (row[0], row[1]) if row else None


# Built once, trashed or not: nearly every image route and every job from a source image asks, and building the
# query cost as much as running it.
_IMAGE = {
    trashed: select(Image, Blob)
    .join(Blob, Blob.id == Image.blob_id)
    .where(Image.id == bindparam("image_id"), Image.owner_id == bindparam("owner_id"))
    .where(Image.deleted_at.is_not(None) if trashed else Image.deleted_at.is_(None))
    for trashed in (False, True)
}


async def image_by_upload_key(db: AsyncSession, owner_id: str, key: str) -> tuple[Image, Blob] | None:
    query = (
        select(Image, Blob)
        .join(Blob, Blob.id == Image.blob_id)
        .where(Image.owner_id == owner_id, Image.upload_key == key, Image.deleted_at.is_(None))
    )
    row = (await db.execute(query)).first()
    return (row[0], row[1]) if row else None


async def job_images(
    db: AsyncSession, owner_id: str, job_ids: Sequence[str], *, include_trashed: bool = False
) -> list[tuple[Image, Blob]]:
    """The images these jobs made, oldest first (a job's outputs in the order it made them)."""
    query = (
        select(Image, Blob)
        .join(Blob, Blob.id == Image.blob_id)
        .where(Image.owner_id == owner_id, Image.job_id.in_(job_ids))
        .order_by(Image.created, Image.id)
    )
    if not include_trashed:
        query = query.where(Image.deleted_at.is_(None))
    return [(row[0], row[1]) for row in await db.execute(query)]


async def images(
    db: AsyncSession,
    owner_id: str,
    *,
    folder_id: str | None,
    unfiled: bool,
    source: str | None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Image, Blob]], int]:
    conditions = [Image.owner_id == owner_id, Image.deleted_at.is_(None)]
    if folder_id is not None:
        conditions.append(Image.folder_id == folder_id)
    if unfiled:
        conditions.append(Image.folder_id.is_(None))
    if source is not None:
        conditions.append(Image.source == source)
    total = (await db.execute(select(func.count()).select_from(Image).where(*conditions))).scalar_one()
    rows = await db.execute(
        select(Image, Blob)
        .join(Blob, Blob.id == Image.blob_id)
        .where(*conditions)
        .order_by(Image.created.desc(), Image.id)
        .offset(offset)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows], total


async def trash(db: AsyncSession, owner_id: str) -> tuple[list[Image], list[Folder]]:
    images_ = await db.execute(select(Image).where(Image.owner_id == owner_id, Image.deleted_at.is_not(None)))
    folders_ = await db.execute(select(Folder).where(Folder.owner_id == owner_id, Folder.deleted_at.is_not(None)))
    return list(images_.scalars()), list(folders_.scalars())


async def set_deleted(
    db: AsyncSession, owner_id: str, folder_ids: list[str], when: datetime | None, *, match: datetime | None = None
) -> None:
    """Trash (or restore, ``when=None``) folders and the images in them; ``match`` restores one deletion only."""
    for model, column in ((Folder, Folder.id), (Image, Image.folder_id)):
        query = update(model).where(model.owner_id == owner_id, column.in_(folder_ids))
        query = query.where(model.deleted_at == match) if match else query.where(model.deleted_at.is_(None))
        await db.execute(query.values(deleted_at=when).execution_options(synchronize_session=False))


async def expired_trash(db: AsyncSession, cutoff: datetime) -> tuple[list[Image], list[Folder]]:
    images_ = await db.execute(select(Image).where(Image.deleted_at < cutoff))
    folders_ = await db.execute(select(Folder).where(Folder.deleted_at < cutoff))
    return list(images_.scalars()), list(folders_.scalars())


async def preference(db: AsyncSession, owner_id: str, model_name: str) -> Preference | None:
    query = select(Preference).where(Preference.owner_id == owner_id, Preference.model_name == model_name)
    return (await db.execute(query)).scalar_one_or_none()


async def save_preference(db: AsyncSession, owner_id: str, model_name: str, preferences: dict[str, Any]) -> None:
    """Insert or replace the user's preferences for a model in one statement, so that two saves at the same
    moment both succeed (the later one wins) instead of the second tripping over the first's new row."""
    now = utcnow()
    statement = upsert(db, Preference).values(
        id=new_id(), owner_id=owner_id, model_name=model_name, preferences=preferences, updated=now
    )
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[Preference.owner_id, Preference.model_name],
            set_={"preferences": statement.excluded.preferences, "updated": now},
        )
    )


async def add_charge(db: AsyncSession, values: dict[str, Any]) -> None:
    """One row of the ledger (its id and time from the columns' defaults)."""
    await db.execute(_INSERT_CHARGE, values)


async def add_images(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert images in one statement, on the table: for writers that need no objects back (a job's outputs)."""
    if rows:
        await db.execute(_INSERT_IMAGES, rows)


# Built once: every paid job that succeeds writes a charge and its images.
_INSERT_CHARGE = insert(cast(Table, CostEntry.__table__))
_INSERT_IMAGES = insert(cast(Table, Image.__table__))


async def spending_totals(db: AsyncSession, owner_id: str, since: datetime | None = None) -> tuple[float, int]:
    """Amount charged and images made, all time or since ``since``."""
    conditions = [CostEntry.owner_id == owner_id]
    if since is not None:
        conditions.append(CostEntry.created >= since)
    query = select(func.coalesce(func.sum(CostEntry.amount), 0.0), func.coalesce(func.sum(CostEntry.units), 0))
    amount, units = (await db.execute(query.where(*conditions))).one()
    return float(amount), int(units)

"""Turning uploaded bytes into stored blobs: validate, dedupe, derive, archive, write, and clean up after crashes.

Order matters for crash safety: a ``pending`` blob row is committed before any file is written, the files
are written, and the row becomes ``ready`` in the caller's transaction. A crash at any point leaves either
nothing or a pending row naming every file it may have written; ``sweep`` removes both later.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import after_commit, transaction
from artboard.errors import ExternalFailure, PayloadTooLarge
from artboard.media.derivatives import Derivatives, archive_original, make_derivatives, read_archived
from artboard.media.storage import Storage
from artboard.media.validation import EXTENSIONS, ImageInfo, inspect_image
from artboard.models import Blob, Image
from artboard.models.base import new_id, utcnow

log = logging.getLogger("artboard.media")
PENDING_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class ImageLimits:
    allowed_types: frozenset[str]
    max_pixels: int
    quota_bytes: int  # 0: no quota


@dataclass(frozen=True)
class _Prepared:
    info: ImageInfo
    sha256: str
    size: int
    derivatives: Derivatives
    archive: bytes

    @property
    def stored_bytes(self) -> int:
        return len(self.archive) + len(self.derivatives.thumbnail) + len(self.derivatives.square)


class Media:
    def __init__(self, storage: Storage, sessions: async_sessionmaker[AsyncSession], limits: ImageLimits) -> None:
        self.storage = storage
        self._sessions = sessions
        self.limits = limits

    async def ingest(self, db: AsyncSession, owner_id: str, data: bytes) -> Blob:
        """The ready blob holding these bytes for this owner; identical bytes are stored once.

        Call it before the request writes anything else: the pending row commits in a transaction of its own.
        """
        info = await asyncio.to_thread(
            inspect_image, io.BytesIO(data), self.limits.allowed_types, self.limits.max_pixels
        )
        sha256 = hashlib.sha256(data).hexdigest()
        existing = await self._blob_by_hash(db, owner_id, sha256)
        if existing is not None and existing.state == "ready":
            return existing
        if existing is not None and existing.state == "deleting":
            await self._remove([existing.id])  # finish that deletion now, then store the bytes afresh
            existing = None
        prepared = await asyncio.to_thread(self._prepare, data, info, sha256)
        await self._check_quota(db, owner_id, prepared.stored_bytes)
        blob_id = existing.id if existing is not None else await self._reserve(owner_id, prepared)
        blob = await db.get(Blob, blob_id, populate_existing=True)
        assert blob is not None
        try:
            await self.storage.put(blob.archive_key, prepared.archive, "application/zip")
            await self.storage.put(blob.thumb_key, prepared.derivatives.thumbnail, "image/jpeg")
            await self.storage.put(blob.square_key, prepared.derivatives.square, "image/jpeg")
        except Exception as exc:
            await self._remove([blob.id])
            raise ExternalFailure("File storage failed; nothing was saved. Try again.") from exc
        blob.state = "ready"
        return blob

    @staticmethod
    def _prepare(data: bytes, info: ImageInfo, sha256: str) -> _Prepared:
        derivatives = make_derivatives(io.BytesIO(data))
        archive = archive_original(data, f"original.{EXTENSIONS[info.content_type]}")
        return _Prepared(info, sha256, len(data), derivatives, archive)

    async def _blob_by_hash(self, db: AsyncSession, owner_id: str, sha256: str) -> Blob | None:
        result = await db.execute(select(Blob).where(Blob.owner_id == owner_id, Blob.sha256 == sha256))
        return result.scalar_one_or_none()

    async def _check_quota(self, db: AsyncSession, owner_id: str, extra: int) -> None:
        if not self.limits.quota_bytes:
            return
        used = (
            await db.execute(select(func.coalesce(func.sum(Blob.stored_bytes), 0)).where(Blob.owner_id == owner_id))
        ).scalar_one()
        if used + extra > self.limits.quota_bytes:
            raise PayloadTooLarge(
                f"Storage quota exceeded: {used + extra} bytes needed, the quota is {self.limits.quota_bytes}.",
                detail={"used": used, "needed": extra, "quota": self.limits.quota_bytes},
            )

    async def _reserve(self, owner_id: str, prepared: _Prepared) -> str:
        blob_id = new_id()
        prefix = f"users/{owner_id}/{blob_id}"
        row = Blob(
            id=blob_id,
            owner_id=owner_id,
            sha256=prepared.sha256,
            state="pending",
            content_type=prepared.info.content_type,
            width=prepared.info.width,
            height=prepared.info.height,
            size=prepared.size,
            stored_bytes=prepared.stored_bytes,
            archive_key=f"{prefix}/original.zip",
            thumb_key=f"{prefix}/thumb.jpg",
            square_key=f"{prefix}/square.jpg",
            created=utcnow(),
        )
        try:
            async with transaction(self._sessions) as own:
                own.add(row)
        except IntegrityError:
            # The same bytes are being ingested right now by another request: share its row.
            async with transaction(self._sessions) as own:
                result = await own.execute(
                    select(Blob.id).where(Blob.owner_id == owner_id, Blob.sha256 == prepared.sha256)
                )
                return str(result.scalar_one())
        return blob_id

    async def _discard(self, blob: Blob) -> None:
        for key in blob.keys:
            try:
                await self.storage.delete(key)
            except Exception:  # the sweep retries whatever this could not remove
                log.exception("could not delete %s", key)

    async def original(self, blob: Blob) -> bytes:
        return read_archived(await self.storage.get(blob.archive_key))

    async def release(self, db: AsyncSession, blob_ids: set[str]) -> int:
        """Blobs no image points at any more are marked ``deleting``; their files go once this commits.

        The row outlives its files, so a crash between the two leaves a row the sweep finishes, never a
        file nothing names.
        """
        if not blob_ids:
            return 0
        await db.flush()
        still_used = set((await db.execute(select(Image.blob_id).where(Image.blob_id.in_(blob_ids)))).scalars())
        orphans = list((await db.execute(select(Blob).where(Blob.id.in_(blob_ids - still_used)))).scalars())
        for blob in orphans:
            blob.state = "deleting"
        if orphans:
            after_commit(db, lambda: self._remove([b.id for b in orphans]))
        return len(orphans)

    async def _remove(self, blob_ids: list[str]) -> None:
        async with transaction(self._sessions) as own:
            blobs = list((await own.execute(select(Blob).where(Blob.id.in_(blob_ids)))).scalars())
            for blob in blobs:
                await self._discard(blob)
                await own.delete(blob)

    async def sweep(self, db: AsyncSession) -> int:
        """Finish what a crash interrupted: blobs being deleted, and pending ones older than the grace period."""
        cutoff = utcnow() - PENDING_GRACE
        unfinished = (Blob.state == "deleting") | ((Blob.state == "pending") & (Blob.created < cutoff))
        stale = list((await db.execute(select(Blob).where(unfinished))).scalars())
        for blob in stale:
            await self._discard(blob)
        if stale:
            await db.execute(delete(Blob).where(Blob.id.in_([b.id for b in stale])))
        return len(stale)

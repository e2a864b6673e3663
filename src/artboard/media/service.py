"""Turning uploaded bytes into stored blobs: validate, dedupe, derive, archive, write, and clean up after crashes.

Order matters for crash safety: a ``pending`` blob row is committed before any file is written, the files
are written, and the row becomes ``ready`` in the caller's transaction. A crash at any point leaves either
nothing or a pending row naming every file it may have written; ``sweep`` removes both later.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import after_commit, transaction
from artboard.errors import ExternalFailure, PayloadTooLarge
from artboard.kit.background import outcome_seen
from artboard.media import repository
from artboard.media.derivatives import Derivatives, archive_original, make_derivatives, read_archived
from artboard.media.storage import Storage
from artboard.media.validation import EXTENSIONS, ImageInfo, inspect_image
from artboard.models import Blob
from artboard.models.base import new_id, utcnow

PENDING_GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class ImageLimits:
    allowed_types: frozenset[str]
    max_pixels: int
    quota_bytes: int  # 0: no quota


@dataclass(frozen=True)
class _Prepared:
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
        # Decoding is CPU- and memory-heavy (a 60 MP PNG decodes to ~240 MB): one at a time per core, in threads
        # of its own, handed over the moment the bytes arrive (no event-loop turn first, as a task would need).
        self._decoders = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="artboard-decode")

    def close(self) -> None:
        self._decoders.shutdown(wait=False, cancel_futures=True)

    async def ingest(self, db: AsyncSession, owner_id: str, data: bytes) -> Blob:
        """The ready blob holding these bytes for this owner; identical bytes are stored once.

        Call it before the request writes anything else: the pending row commits in a transaction of its own.
        """
        blob = await self._write_files(db, owner_id, data)
        await self.make_ready(db, [blob])
        return blob

    async def ingest_pending(self, owner_id: str, images: list[bytes]) -> list[Blob]:
        """Blobs for these images with their files written, left ``pending`` (or already ready when the owner
        had the same bytes) until ``make_ready`` in the transaction that uses them: for writers that keep no
        transaction open while files are written. A crash in between leaves what the sweep removes."""
        if not images:
            return []
        async with self._sessions() as db:
            with db.no_autoflush:
                return [await self._write_files(db, owner_id, data) for data in images]

    async def make_ready(self, db: AsyncSession, blobs: list[Blob]) -> None:
        for blob in blobs:
            if blob.state != "ready":
                await repository.make_ready(db, blob.id, blob.stored_bytes)
                blob.state = "ready"  # the row as this transaction leaves it (the object may belong to no session)

    async def _write_files(self, db: AsyncSession, owner_id: str, data: bytes) -> Blob:
        """The owner's blob for these bytes: an existing ready one, or one whose files are now written and
        whose row is still pending (committed by ``_reserve``, so it belongs to no session).

        The header is checked first; the derivatives and the archive are then made in a decoding thread while the
        lookup and the reservation go on here (for bytes the owner already has, that work is thrown away).
        """
        sha256 = hashlib.sha256(data).hexdigest()
        info = inspect_image(io.BytesIO(data), self.limits.allowed_types, self.limits.max_pixels)
        preparing = asyncio.get_running_loop().run_in_executor(self._decoders, _derive_and_archive, data, info)
        preparing.add_done_callback(outcome_seen)  # not awaited when the bytes turn out to be stored already
        existing = await repository.blob_by_hash(db, owner_id, sha256)
        if existing is not None and existing.state == "deleting":
            await self._remove([existing.id])  # finish that deletion now (or revive the blob if still used)
            existing = await repository.blob_by_hash(db, owner_id, sha256, fresh=True)
        if existing is not None and existing.state == "ready":
            return existing  # the same bytes are valid and stored already
        blob = existing if existing is not None else await self._reserve(owner_id, sha256, info, len(data))
        try:
            prepared = await preparing  # refuses an image whose header was fine but whose pixels are not
            await self._check_quota(db, owner_id, prepared.stored_bytes)
        except Exception:
            if existing is None:
                await self._abandon(blob.id)
            raise
        blob.stored_bytes = prepared.stored_bytes  # written with the ready state (``make_ready``)
        written = await asyncio.gather(  # side by side; every write ends before a failure is cleaned up
            self.storage.put(blob.archive_key, prepared.archive, "application/zip"),
            self.storage.put(blob.thumb_key, prepared.derivatives.thumbnail, "image/jpeg"),
            self.storage.put(blob.square_key, prepared.derivatives.square, "image/jpeg"),
            return_exceptions=True,
        )
        if failed := next((outcome for outcome in written if isinstance(outcome, BaseException)), None):
            await self._abandon(blob.id)
            raise ExternalFailure("File storage failed; nothing was saved. Try again.") from failed
        return blob

    async def _check_quota(self, db: AsyncSession, owner_id: str, extra: int) -> None:
        if not self.limits.quota_bytes:
            return
        used = await repository.stored_bytes(db, owner_id)
        if used + extra > self.limits.quota_bytes:
            raise PayloadTooLarge(
                f"Storage quota exceeded: {used + extra} bytes needed, the quota is {self.limits.quota_bytes}.",
                detail={"used": used, "needed": extra, "quota": self.limits.quota_bytes},
            )

    async def _reserve(self, owner_id: str, sha256: str, info: ImageInfo, size: int) -> Blob:
        """Commit the pending row that names the files about to be written. Its ``stored_bytes`` stays 0 until
        ``make_ready`` (the derivatives are still being made)."""
        blob_id = new_id()
        prefix = f"users/{owner_id}/{blob_id}"
        row = Blob(
            id=blob_id,
            owner_id=owner_id,
            sha256=sha256,
            state="pending",
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            size=size,
            stored_bytes=0,
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
                shared = await repository.blob_by_hash(own, owner_id, sha256)
                assert shared is not None
                return shared
        return row

    async def _abandon(self, blob_id: str) -> None:
        """Undo a reservation whose files could not all be written."""
        async with transaction(self._sessions) as own:
            await repository.set_state(own, blob_id, "deleting")
        await self._remove([blob_id])

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
        orphans = await repository.blobs(db, blob_ids - await repository.still_used(db, blob_ids))
        for blob in orphans:
            blob.state = "deleting"
        if orphans:
            after_commit(db, lambda: self._remove([b.id for b in orphans]))
        return len(orphans)

    async def _remove(self, blob_ids: list[str]) -> None:
        """Delete blobs marked ``deleting``: row first, so a foreign key still pointing at it (an upload of
        the same bytes that reused the blob meanwhile) stops the delete and revives the blob instead; files
        next, inside the same transaction, so a crash before the commit leaves the row for the sweep."""
        for blob_id in blob_ids:
            try:
                async with transaction(self._sessions) as own:
                    blob = await own.get(Blob, blob_id, with_for_update=True)
                    if blob is None or blob.state != "deleting":
                        continue
                    keys = blob.keys
                    await own.delete(blob)
                    await own.flush()
                    for key in keys:
                        await self.storage.delete(key)
            except IntegrityError:
                async with transaction(self._sessions) as own:
                    await repository.set_state(own, blob_id, "ready")

    async def sweep(self) -> int:
        """Finish what a crash interrupted: blobs being deleted, and pending ones older than the grace period."""
        cutoff = utcnow() - PENDING_GRACE
        async with transaction(self._sessions) as own:
            await repository.mark_stale_pending(own, cutoff)
        async with self._sessions() as own:
            unfinished = await repository.deleting_ids(own)
        await self._remove(unfinished)
        return len(unfinished)


def _derive_and_archive(data: bytes, info: ImageInfo) -> _Prepared:
    derivatives = make_derivatives(io.BytesIO(data))
    return _Prepared(derivatives, archive_original(data, f"original.{EXTENSIONS[info.content_type]}"))

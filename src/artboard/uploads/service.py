"""Seed 004's direct uploads: the client puts bytes straight into storage, then asks Artboard to confirm them.

Keys live under ``incoming/<user id>/``, so a key names its owner and another user's key is simply not found.
A confirmed upload is validated like any other (a bad one is deleted), becomes an image, and the loose object
is removed once the image is committed; unconfirmed objects expire with the maintenance sweep.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from artboard.db import after_commit
from artboard.errors import AuthenticationFailed, NotFound, PayloadTooLarge, ValidationFailed
from artboard.kit.body import too_large
from artboard.kit.signing import UrlSigner
from artboard.library import repository
from artboard.library.service import Library
from artboard.media.derivatives import read_archived
from artboard.media.storage import DOWNLOAD_ROUTE, PresignedUpload, Storage, is_plain_key
from artboard.media.validation import ImageRejected, accepted
from artboard.models import Blob, Image
from artboard.models.base import utcnow

INCOMING = "incoming"
INCOMING_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class DownloadUrls:
    url: str
    thumbnail_url: str
    square_url: str


def safe_filename(name: str) -> str:
    """Only the last path segment, in a small alphabet: no traversal, no control characters."""
    last = re.split(r"[\\/]", name)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", last).lstrip(".")[-100:]
    return cleaned or "upload"


class DirectUploads:
    def __init__(self, library: Library, signer: UrlSigner, max_file_size: int, expires_s: int) -> None:
        self.library = library
        self._signer = signer
        self.max_file_size = max_file_size
        self.expires_s = expires_s

    @property
    def storage(self) -> Storage:
        return self.library.media.storage

    def presign(
        self, owner_id: str, filename: str, content_type: str, size: int, base_url: str
    ) -> tuple[str, PresignedUpload]:
        allowed = self.library.media.limits.allowed_types
        if content_type not in allowed:
            raise ValidationFailed(f"content_type must be one of {accepted(allowed)}.")
        if size > self.max_file_size:
            raise too_large(self.max_file_size)
        key = f"{INCOMING}/{owner_id}/{secrets.token_hex(8)}/{safe_filename(filename)}"
        return key, self.storage.presign_upload(key, content_type, self.max_file_size, self.expires_s, base_url)

    @staticmethod
    def _own_key(owner_id: str, key: str) -> str:
        """The key when it is one of this user's upload keys (exactly the shape ``presign`` makes), else 404."""
        parts = key.split("/")
        if len(parts) != 4 or parts[:2] != [INCOMING, owner_id] or not is_plain_key(key):
            raise NotFound("No upload with this key.")
        return key

    async def confirm(self, db: AsyncSession, owner_id: str, key: str) -> tuple[Image, Blob]:
        key = self._own_key(owner_id, key)
        done = await repository.image_by_upload_key(db, owner_id, key)
        if done is not None:
            return done  # confirming twice is harmless
        stored = await self.storage.stat(key)
        if stored is None:
            raise NotFound("Nothing was uploaded with this key (or the upload expired).")
        if stored.size > self.max_file_size:
            await self.storage.delete(key)
            raise PayloadTooLarge(f"The uploaded file is larger than the {self.max_file_size} byte limit.")
        data = await self.storage.get(key)
        try:
            image, blob = await self.library.add_image(
                db, owner_id, data, title=safe_filename(key), source="presigned", upload_key=key
            )
        except ImageRejected:
            await self.storage.delete(key)
            raise
        after_commit(db, lambda: self.storage.delete(key))
        return image, blob

    async def confirmed_image(self, db: AsyncSession, owner_id: str, key: str) -> tuple[Image, Blob]:
        """The image a confirmed upload became (seed 004 names it by its key), else 404."""
        found = await repository.image_by_upload_key(db, owner_id, self._own_key(owner_id, key))
        if found is None:
            raise NotFound("No confirmed upload with this key: confirm it first (POST /api/upload/confirm).")
        return found

    async def download_urls(self, db: AsyncSession, owner_id: str, key: str, base_url: str) -> DownloadUrls:
        _, blob = await self.confirmed_image(db, owner_id, key)
        original = {"op": "get", "key": blob.archive_key, "archived": True, "type": blob.content_type}
        return DownloadUrls(
            url=f"{base_url}{DOWNLOAD_ROUTE}/{self._signer.sign(original, self.expires_s)}",
            thumbnail_url=self.storage.presign_download(blob.thumb_key, self.expires_s, base_url),
            square_url=self.storage.presign_download(blob.square_key, self.expires_s, base_url),
        )

    async def receive(self, fields: dict[str, str], data: bytes | None) -> None:
        """Store a local presigned upload, checking the form against the grant its token carries."""
        grant = self._signer.verify(fields.get("token", ""))
        if grant is None or grant.get("op") != "put":
            raise AuthenticationFailed("The upload URL is invalid or has expired.")
        if fields.get("key") != grant["key"] or fields.get("Content-Type") != grant["type"]:
            raise ValidationFailed("The form fields do not match the ones this upload URL was issued with.")
        if data is None:
            raise ValidationFailed("The form has no `file` field.")
        if len(data) > int(grant["max"]):
            raise too_large(int(grant["max"]))
        await self.storage.put(grant["key"], data, grant["type"])

    async def signed_file(self, token: str) -> tuple[bytes, str]:
        """The bytes and type of the file a signed download token names (originals come out of their archive)."""
        grant = self._signer.verify(token)
        if grant is None or grant.get("op") != "get":
            raise NotFound("This download link is invalid or has expired.")
        data = await self.storage.get(grant["key"])
        if grant.get("archived"):
            return read_archived(data), str(grant["type"])
        return data, mimetypes.guess_type(grant["key"])[0] or "application/octet-stream"

    async def sweep(self) -> int:
        """Delete uploads never confirmed within a day."""
        cutoff = utcnow() - INCOMING_LIFETIME
        stale = [item.key async for item in self.storage.listing(f"{INCOMING}/") if item.modified < cutoff]
        for key in stale:
            await self.storage.delete(key)
        return len(stale)

"""The gallery: folders (nested, cycle-free), images over shared blobs, trash with retention, preferences."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from artboard.errors import Conflict, NotFound, ValidationFailed
from artboard.kit.body import BodyError, loads_strict, parse_as, too_large
from artboard.kit.pagination import PageParams
from artboard.library import repository
from artboard.library.schemas import CollectionItemJson
from artboard.media.service import Media
from artboard.models import Blob, Folder, Image
from artboard.models.base import ID_PATTERN, new_id, utcnow

VARIANTS = ("original", "thumb", "square")
THUMBNAIL_NAME = re.compile(rf"^thumbnail_({ID_PATTERN})\.jpg$")
MAX_FOLDER_DEPTH = 32


def _ancestors(parents: dict[str, str | None], start: str) -> list[str]:
    """``start`` and the folders above it, nearest first."""
    chain: list[str] = []
    current: str | None = start
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


def _subtree(parents: dict[str, str | None], root: str) -> list[str]:
    """``root`` and every folder below it, breadth first."""
    children: dict[str, list[str]] = {}
    for folder_id, parent_id in parents.items():
        if parent_id is not None:
            children.setdefault(parent_id, []).append(folder_id)
    found, index = {root: None}, 0
    order = [root]
    while index < len(order):
        for child in children.get(order[index], []):
            if child not in found:  # a cycle (only a concurrent move race could make one) ends here
                found[child] = None
                order.append(child)
        index += 1
    return order


def _height(parents: dict[str, str | None], root: str) -> int:
    """How many levels the subtree of ``root`` spans (1 for a folder without subfolders)."""
    return max(len(_ancestors(parents, leaf)) - len(_ancestors(parents, root)) + 1 for leaf in _subtree(parents, root))


@dataclass(frozen=True)
class FileContent:
    data: bytes
    content_type: str
    etag: str


@dataclass(frozen=True)
class TrashEntry:
    id: str
    type: Literal["image", "folder"]
    name: str
    deleted_at: datetime
    purge_after: datetime


@dataclass(frozen=True)
class NewItem:
    """A seed 002 collection item, whichever body form it came in."""

    title: str
    metadata: dict[str, Any]
    data: bytes


@dataclass(frozen=True)
class JobOutput:
    """One image a job made, its files stored (``store``) and its id chosen ahead (the job's result names it)."""

    image_id: str
    blob: Blob
    title: str
    details: dict[str, Any]


@dataclass(frozen=True)
class PurgeReport:
    images: int
    folders: int
    blobs: int


class Library:
    def __init__(self, media: Media, retention: timedelta) -> None:
        self.media = media
        self.retention = retention

    # ---- folders ------------------------------------------------------------------------------------

    async def create_folder(
        self, db: AsyncSession, owner_id: str, name: str, parent_id: str | None, private: bool = False
    ) -> Folder:
        if parent_id is not None:
            await self.folder(db, owner_id, parent_id)
            await repository.hold_folders(db, owner_id)
            self._check_depth(len(_ancestors(await repository.parent_ids(db, owner_id), parent_id)) + 1)
        folder = Folder(owner_id=owner_id, name=name, parent_id=parent_id, private=private)
        db.add(folder)
        await db.flush()
        return folder

    async def folders(self, db: AsyncSession, owner_id: str) -> list[Folder]:
        return await repository.folders(db, owner_id)

    async def folders_page(self, db: AsyncSession, owner_id: str, page: PageParams) -> tuple[list[Folder], int]:
        return await repository.folders_page(db, owner_id, page.offset, page.per_page)

    async def folder(self, db: AsyncSession, owner_id: str, folder_id: str) -> Folder:
        found = await repository.folder(db, owner_id, folder_id)
        if found is None:
            raise NotFound("No folder with this id.")
        return found

    async def add_job_outputs(
        self,
        db: AsyncSession,
        owner_id: str,
        job_id: str,
        outputs: list[JobOutput],
        *,
        folder_id: str | None,
        source_image_id: str | None,
        lineage: dict[str, Any],
    ) -> None:
        """A job's images, in the transaction that finishes it: one insert for them all. They land in
        ``folder_id`` while that folder is still there, else at the top level (it was deleted while the job
        ran)."""
        if folder_id is not None and await repository.folder(db, owner_id, folder_id) is None:
            folder_id = None
        await self.media.make_ready(db, [output.blob for output in outputs])
        await repository.add_images(
            db,
            [
                {
                    "id": output.image_id,
                    "owner_id": owner_id,
                    "blob_id": output.blob.id,
                    "folder_id": folder_id,
                    "title": output.title,
                    "source": "job",
                    "details": output.details,
                    "job_id": job_id,
                    "source_image_id": source_image_id,
                    "lineage": lineage,
                }
                for output in outputs
            ],
        )

    async def update_folder(self, db: AsyncSession, owner_id: str, folder_id: str, changes: dict[str, Any]) -> Folder:
        folder = await self.folder(db, owner_id, folder_id)
        if "parent_id" in changes:
            parent_id = changes["parent_id"]
            if parent_id is not None:
                await self.folder(db, owner_id, parent_id)
                await repository.hold_folders(db, owner_id)  # two moves at once could make a cycle
                parents = await repository.parent_ids(db, owner_id)
                above = _ancestors(parents, parent_id)
                if folder_id in above:
                    raise Conflict("A folder cannot move inside itself or one of its subfolders.")
                self._check_depth(len(above) + _height(parents, folder_id))
            folder.parent_id = parent_id
        if changes.get("name") is not None:
            folder.name = changes["name"]
        if changes.get("private") is not None:
            folder.private = changes["private"]
        await db.flush()
        return folder

    @staticmethod
    def _check_depth(depth: int) -> None:
        if depth > MAX_FOLDER_DEPTH:
            raise ValidationFailed(f"Folders nest at most {MAX_FOLDER_DEPTH} levels deep.")

    async def trash_folder(self, db: AsyncSession, owner_id: str, folder_id: str) -> None:
        """Trash the folder with its subfolders and their images, all stamped with one time."""
        await self.folder(db, owner_id, folder_id)
        parents = await repository.parent_ids(db, owner_id)
        await repository.set_deleted(db, owner_id, _subtree(parents, folder_id), utcnow())

    # ---- images -------------------------------------------------------------------------------------

    async def store(self, owner_id: str, images: list[bytes]) -> list[Blob]:
        """Write several images' files ahead of the transaction that keeps them (``add_job_outputs``), which holds no
        lock while files are written; until it commits, their rows stay pending."""
        return await self.media.ingest_pending(owner_id, images)

    async def add_image(
        self,
        db: AsyncSession,
        owner_id: str,
        data: bytes,
        *,
        title: str = "",
        folder_id: str | None = None,
        source: str = "upload",
        details: dict[str, Any] | None = None,
        upload_key: str | None = None,
    ) -> tuple[Image, Blob]:
        if folder_id is not None:
            if not re.fullmatch(ID_PATTERN, folder_id):
                raise ValidationFailed("folder_id is not a valid id.")
            await self.folder(db, owner_id, folder_id)
        blob = await self.media.ingest(db, owner_id, data)
        image = Image(
            id=new_id(),
            owner_id=owner_id,
            blob_id=blob.id,
            folder_id=folder_id,
            title=title,
            source=source,
            details=details or {},
            upload_key=upload_key,
        )
        db.add(image)
        await db.flush()
        return image, blob

    async def images_page(
        self,
        db: AsyncSession,
        owner_id: str,
        page: PageParams,
        *,
        folder_id: str | None = None,
        unfiled: bool = False,
        source: str | None = None,
    ) -> tuple[list[tuple[Image, Blob]], int]:
        """Newest first; one folder's (``folder_id``), only those in no folder (``unfiled``), or all."""
        return await repository.images(
            db, owner_id, folder_id=folder_id, unfiled=unfiled, source=source, offset=page.offset, limit=page.per_page
        )

    async def image(self, db: AsyncSession, owner_id: str, image_id: str) -> tuple[Image, Blob]:
        found = await repository.image(db, owner_id, image_id)
        if found is None:
            raise NotFound("No image with this id.")
        return found

    async def update_image(
        self, db: AsyncSession, owner_id: str, image_id: str, changes: dict[str, Any]
    ) -> tuple[Image, Blob]:
        image, blob = await self.image(db, owner_id, image_id)
        if "folder_id" in changes:
            if changes["folder_id"] is not None:
                await self.folder(db, owner_id, changes["folder_id"])
            image.folder_id = changes["folder_id"]
        if changes.get("title") is not None:
            image.title = changes["title"]
        await db.flush()
        return image, blob

    async def trash_image(self, db: AsyncSession, owner_id: str, image_id: str) -> None:
        image, _ = await self.image(db, owner_id, image_id)
        image.deleted_at = utcnow()

    async def remove_image(self, db: AsyncSession, owner_id: str, image_id: str, source: str | None = None) -> None:
        """Delete at once, files included (seed 002's collection items skip the trash)."""
        image, blob = await self.image(db, owner_id, image_id)
        if source is not None and image.source != source:
            raise NotFound("No image with this id.")
        await db.delete(image)
        await db.flush()
        await self.media.release(db, {blob.id})

    async def job_outputs(
        self, db: AsyncSession, owner_id: str, job_ids: list[str]
    ) -> dict[str, list[tuple[Image, Blob]]]:
        """The images each job made that are still in the gallery (not trashed), in the order it made them."""
        outputs: dict[str, list[tuple[Image, Blob]]] = {job_id: [] for job_id in job_ids}
        for image, blob in await repository.job_images(db, owner_id, job_ids) if job_ids else []:
            outputs[str(image.job_id)].append((image, blob))
        return outputs

    async def remove_job_outputs(self, db: AsyncSession, owner_id: str, job_id: str) -> int:
        """Delete every image a job made, trashed ones too, with their files; returns how many."""
        found = await repository.job_images(db, owner_id, [job_id], include_trashed=True)
        for image, _ in found:
            await db.delete(image)
        await db.flush()
        await self.media.release(db, {blob.id for _, blob in found})
        return len(found)

    async def file(self, db: AsyncSession, owner_id: str, image_id: str, variant: str) -> FileContent:
        _, blob = await self.image(db, owner_id, image_id)
        return await self.blob_file(blob, variant)

    async def thumbnail(self, db: AsyncSession, owner_id: str, file_name: str) -> FileContent:
        """Seed 003's thumbnail by file name, ``thumbnail_<image id>.jpg``."""
        match = THUMBNAIL_NAME.fullmatch(file_name)
        try:
            if match is None:
                raise NotFound("No thumbnail with this name.")
            return await self.file(db, owner_id, match.group(1), "thumb")
        except NotFound:
            raise NotFound("No thumbnail with this name.") from None

    async def blob_file(self, blob: Blob, variant: str) -> FileContent:
        if variant not in VARIANTS:
            raise ValidationFailed(f"variant must be one of {', '.join(VARIANTS)}.")
        if variant == "original":
            return FileContent(await self.media.original(blob), blob.content_type, f'"{blob.sha256}"')
        key = blob.thumb_key if variant == "thumb" else blob.square_key
        return FileContent(await self.media.storage.get(key), "image/jpeg", f'"{blob.sha256}-{variant}"')

    # ---- trash --------------------------------------------------------------------------------------

    async def trash(self, db: AsyncSession, owner_id: str) -> list[TrashEntry]:
        """Trashed images and folders together, most recently deleted first."""
        images, folders = await repository.trash(db, owner_id)
        entries = [
            TrashEntry(i.id, "image", i.title, i.deleted_at, self.purge_after(i.deleted_at))
            for i in images
            if i.deleted_at
        ]
        entries += [
            TrashEntry(f.id, "folder", f.name, f.deleted_at, self.purge_after(f.deleted_at))
            for f in folders
            if f.deleted_at
        ]
        return sorted(entries, key=lambda entry: entry.deleted_at, reverse=True)

    async def restore(self, db: AsyncSession, owner_id: str, item_id: str) -> str:
        """Restore a trashed image or folder (with what was trashed along with it); returns its type."""
        parents = await repository.parent_ids(db, owner_id)
        folder = await repository.folder(db, owner_id, item_id, trashed=True)
        if folder is not None:
            if folder.parent_id and await repository.folder(db, owner_id, folder.parent_id) is None:
                folder.parent_id = None  # its parent is still in the trash (or gone): restore to the top
            await repository.set_deleted(db, owner_id, _subtree(parents, item_id), None, match=folder.deleted_at)
            return "folder"
        found = await repository.image(db, owner_id, item_id, trashed=True)
        if found is None:
            raise NotFound("Nothing in the trash has this id.")
        image = found[0]
        if image.folder_id and await repository.folder(db, owner_id, image.folder_id) is None:
            image.folder_id = None
        image.deleted_at = None
        return "image"

    def purge_after(self, deleted_at: datetime) -> datetime:
        return deleted_at + self.retention

    async def purge(self, db: AsyncSession) -> PurgeReport:
        """Delete for good what has been in the trash longer than the retention, files included."""
        images, folders = await repository.expired_trash(db, utcnow() - self.retention)
        blob_ids = {image.blob_id for image in images}
        if images:
            await db.execute(delete(Image).where(Image.id.in_([i.id for i in images])))
        if folders:
            await db.execute(delete(Folder).where(Folder.id.in_([f.id for f in folders])))
        released = await self.media.release(db, blob_ids)
        return PurgeReport(len(images), len(folders), released)

    # ---- preferences --------------------------------------------------------------------------------

    async def preferences(self, db: AsyncSession, owner_id: str, model_name: str) -> dict[str, Any] | None:
        found = await repository.preference(db, owner_id, model_name)
        return found.preferences if found else None

    async def save_preferences(
        self, db: AsyncSession, owner_id: str, model_name: str, preferences: dict[str, Any]
    ) -> None:
        await repository.save_preference(db, owner_id, model_name, preferences)


# ---- seed 002 collection items: two body forms, one item ------------------------------------------------


def item_from_form(fields: dict[str, str], data: bytes) -> NewItem:
    """A multipart item: the file, `title`, and `metadata` as a JSON object in a text field."""
    metadata = _json_object(fields.get("metadata") or "{}", "metadata")
    others = {key: value for key, value in fields.items() if key != "metadata"}
    body = parse_as(CollectionItemJson, {**others, "image_base64": "-", "metadata": metadata})
    return NewItem(body.title, body.metadata, data)


def item_from_json(raw: bytes, max_file_size: int) -> NewItem:
    """A JSON item: `{title, image_base64, metadata?}`, the image base64-encoded (a data: URL works too)."""
    body = parse_as(CollectionItemJson, _json_object(raw, "The request body"))
    payload = body.image_base64
    if payload.startswith("data:") and "," in payload:
        payload = payload.split(",", 1)[1]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("image_base64 is not valid base64.") from None
    if len(data) > max_file_size:
        raise too_large(max_file_size)
    return NewItem(body.title, body.metadata, data)


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """``raw`` parsed as a JSON object, or a 400 naming ``what``."""
    try:
        value = loads_strict(raw)
    except BodyError:
        value = None
    if not isinstance(value, dict):
        raise ValidationFailed(f"{what} must be a JSON object.")
    return value

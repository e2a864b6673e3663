"""How the gallery's rows become replies: shared by the gallery, folder and collection-item routes."""

from __future__ import annotations

from fastapi import Request, Response, status

from artboard.config import Settings
from artboard.kit.etag import unchanged
from artboard.library.schemas import CollectionItemOut, FolderOut, ImageOut, Lineage, SeedFolderOut
from artboard.library.service import FileContent
from artboard.models import Blob, Folder, Image


def base_url(request: Request, settings: Settings) -> str:
    return str(settings.public_url or request.base_url).rstrip("/")


def thumbnail_path(image_id: str) -> str:
    """Where seed 003's thumbnail route serves an image's 128 px thumbnail."""
    return f"/api/thumbnails/thumbnail_{image_id}.jpg"


def file_url(base: str, image_id: str, variant: str) -> str:
    return f"{base}/api/images/{image_id}/file?variant={variant}"


def image_out(image: Image, blob: Blob, base: str) -> ImageOut:
    return ImageOut(
        id=image.id,
        title=image.title,
        folder_id=image.folder_id,
        source=image.source,
        content_type=blob.content_type,
        width=blob.width,
        height=blob.height,
        size=blob.size,
        sha256=blob.sha256,
        metadata=image.details,
        lineage=lineage_out(image),
        thumbnail_url=base + thumbnail_path(image.id),
        square_url=file_url(base, image.id, "square"),
        original_url=file_url(base, image.id, "original"),
        created=image.created,
        updated=image.updated,
    )


def lineage_out(image: Image) -> Lineage | None:
    if image.job_id is None and image.lineage is None:
        return None
    return Lineage(job_id=image.job_id, source_image_id=image.source_image_id, **(image.lineage or {}))


def item_out(image: Image, blob: Blob, base: str) -> CollectionItemOut:
    return CollectionItemOut(
        id=image.id,
        title=image.title,
        metadata=image.details,
        content_type=blob.content_type,
        width=blob.width,
        height=blob.height,
        thumbnail_url=base + thumbnail_path(image.id),
        image_url=f"{base}/collection/items/{image.id}/image",
        created=image.created,
    )


def folder_out(folder: Folder) -> FolderOut:
    """Artboard's folder shape: a top-level folder's `parent_id` is null."""
    return FolderOut(
        id=folder.id,
        user_id=folder.owner_id,
        name=folder.name,
        parent_id=folder.parent_id,
        private=folder.private,
        created=folder.created,
        updated=folder.updated,
    )


def seed_folder_out(folder: Folder) -> SeedFolderOut:
    """Seed 001's folder shape: a top-level folder's `parent_id` is ""."""
    return SeedFolderOut(**folder_out(folder).model_dump(exclude={"parent_id"}), parent_id=folder.parent_id or "")


def file_response(content: FileContent, request: Request) -> Response:
    headers = {"ETag": content.etag, "Cache-Control": "private, max-age=86400"}
    if unchanged(request.headers.get("if-none-match"), content.etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content.data, media_type=content.content_type, headers=headers)

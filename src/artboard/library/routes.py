"""Gallery routes: seed 001 folders and preferences, seed 002 collection items, seed 003 thumbnails,
seed 004 direct uploads, and Artboard's own images, folders and trash."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from artboard.auth.deps import AdminUser, CurrentUser, Db, SettingsDep
from artboard.config import Settings
from artboard.errors import NotFound, ValidationFailed
from artboard.kit.body import FORM_OVERHEAD, BodyError, loads_strict, parse_as, read_capped_body, too_large
from artboard.kit.pagination import Page, Pagination
from artboard.library import repository
from artboard.library.maintenance import run_maintenance
from artboard.library.schemas import (
    CollectionImage,
    CollectionItemJson,
    CollectionItemOut,
    FolderCreate,
    FolderCreated,
    FolderList,
    FolderOut,
    FolderPatch,
    ImageOut,
    ImagePatch,
    PreferencesOut,
    PreferencesQuery,
    PreferencesSave,
    Saved,
    TrashItem,
    TrashList,
)
from artboard.library.service import FileContent, Library
from artboard.library.uploads import DirectUploads
from artboard.media.schemas import ConfirmRequest, DownloadUrlOut, PresignedUploadOut, PresignRequest
from artboard.media.upload import read_upload_form
from artboard.models import Blob, Folder, Image
from artboard.models.base import ID_PATTERN

router = APIRouter(tags=["gallery"])
THUMBNAIL_NAME = re.compile(rf"^thumbnail_({ID_PATTERN})\.jpg$")


async def get_library(request: Request) -> Library:
    library: Library = request.app.state.library
    return library


async def get_uploads(request: Request) -> DirectUploads:
    uploads: DirectUploads = request.app.state.uploads
    return uploads


LibraryDep = Annotated[Library, Depends(get_library)]
UploadsDep = Annotated[DirectUploads, Depends(get_uploads)]


def base_url(request: Request, settings: Settings) -> str:
    return str(settings.public_url or request.base_url).rstrip("/")


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
        thumbnail_url=f"{base}/api/thumbnails/thumbnail_{image.id}.jpg",
        square_url=f"{base}/api/images/{image.id}/file?variant=square",
        original_url=f"{base}/api/images/{image.id}/file?variant=original",
        created=image.created,
        updated=image.updated,
    )


def item_out(image: Image, blob: Blob, base: str) -> CollectionItemOut:
    return CollectionItemOut(
        id=image.id,
        title=image.title,
        metadata=image.details,
        content_type=blob.content_type,
        width=blob.width,
        height=blob.height,
        thumbnail_url=f"{base}/api/thumbnails/thumbnail_{image.id}.jpg",
        image_url=f"{base}/collection/items/{image.id}/image",
        created=image.created,
    )


def folder_out(folder: Folder) -> FolderOut:
    return FolderOut(
        id=folder.id,
        user_id=folder.owner_id,
        name=folder.name,
        parent_id=folder.parent_id or "",
        private=folder.private,
        created=folder.created,
        updated=folder.updated,
    )


def file_response(content: FileContent, request: Request) -> Response:
    headers = {"ETag": content.etag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == content.etag:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(content.data, media_type=content.content_type, headers=headers)


def _entity_id(value: str | None, field: str) -> str | None:
    if value in (None, ""):
        return None
    if not re.fullmatch(ID_PATTERN, value):
        raise ValidationFailed(f"{field} is not a valid id.")
    return value


# ---- folders (seed 001 and Artboard) -----------------------------------------------------------------


@router.post("/api/custom/collections/create", response_model=FolderCreated)
async def create_collection(body: FolderCreate, user: CurrentUser, db: Db, library: LibraryDep) -> FolderCreated:
    """Create a folder, optionally inside another."""
    folder = await library.create_folder(db, user.id, body.name, body.parent_id, body.private)
    return FolderCreated(id=folder.id, name=folder.name, parent_id=folder.parent_id or "", created=folder.created)


@router.get("/api/custom/collections", response_model=FolderList)
@router.get("/api/folders", response_model=FolderList)
async def list_collections(user: CurrentUser, db: Db) -> FolderList:
    """The user's folders (not those in the trash)."""
    return FolderList(collections=[folder_out(f) for f in await repository.folders(db, user.id)])


@router.post("/api/folders", response_model=FolderOut, status_code=status.HTTP_201_CREATED)
async def create_folder(body: FolderCreate, user: CurrentUser, db: Db, library: LibraryDep) -> FolderOut:
    """Create a folder, optionally inside another."""
    return folder_out(await library.create_folder(db, user.id, body.name, body.parent_id, body.private))


@router.get("/api/folders/{folder_id}", response_model=FolderOut)
async def get_folder(folder_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> FolderOut:
    """One folder."""
    return folder_out(await library.folder(db, user.id, folder_id))


@router.patch("/api/folders/{folder_id}", response_model=FolderOut)
async def update_folder(folder_id: str, body: FolderPatch, user: CurrentUser, db: Db, library: LibraryDep) -> FolderOut:
    """Rename, move (never into itself) or change privacy."""
    changes = body.model_dump(exclude_unset=True)
    return folder_out(await library.update_folder(db, user.id, folder_id, changes))


@router.delete("/api/folders/{folder_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_folder(folder_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """Move the folder, its subfolders and their images to the trash."""
    await library.trash_folder(db, user.id, folder_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---- images (Artboard) -------------------------------------------------------------------------------


@router.get("/api/images", response_model=Page[ImageOut])
async def list_images(
    request: Request,
    user: CurrentUser,
    db: Db,
    settings: SettingsDep,
    pagination: Pagination,
    folder_id: Annotated[str | None, Query(pattern=f"^{ID_PATTERN}$")] = None,
) -> Page[ImageOut]:
    """The user's images, newest first, optionally only one folder's."""
    rows, total = await repository.images(
        db, user.id, folder_id=folder_id, source=None, offset=pagination.offset, limit=pagination.per_page
    )
    base = base_url(request, settings)
    return Page.of([image_out(i, b, base) for i, b in rows], pagination, total)


@router.post("/api/images", response_model=ImageOut, status_code=status.HTTP_201_CREATED)
async def upload_image(
    request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep
) -> ImageOut:
    """Upload an image: multipart with the file in `file`, optional `title` and `folder_id`."""
    form = await read_upload_form(request, "file", settings.max_file_size)
    if form.file is None:
        raise ValidationFailed("The form has no `file` field.")
    title = form.fields.get("title", form.filename or "").replace("\x00", "")[:300]
    folder_id = _entity_id(form.fields.get("folder_id"), "folder_id")
    image, blob = await library.add_image(db, user.id, form.file, title=title, folder_id=folder_id)
    return image_out(image, blob, base_url(request, settings))


@router.get("/api/images/{image_id}", response_model=ImageOut)
async def get_image(
    image_id: str, request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep
) -> ImageOut:
    """One image."""
    return image_out(*await library.image(db, user.id, image_id), base_url(request, settings))


@router.patch("/api/images/{image_id}", response_model=ImageOut)
async def update_image(
    image_id: str,
    body: ImagePatch,
    request: Request,
    user: CurrentUser,
    db: Db,
    library: LibraryDep,
    settings: SettingsDep,
) -> ImageOut:
    """Change the title or move to another folder (`folder_id: null` for the top level)."""
    image, blob = await library.update_image(db, user.id, image_id, body.model_dump(exclude_unset=True))
    return image_out(image, blob, base_url(request, settings))


@router.delete("/api/images/{image_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_image(image_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """Move the image to the trash."""
    await library.trash_image(db, user.id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/images/{image_id}/file")
async def image_file(
    image_id: str, request: Request, user: CurrentUser, db: Db, library: LibraryDep, variant: str = "original"
) -> Response:
    """The image's bytes: `original`, `thumb` (128 px) or `square` (512 px, letterboxed)."""
    return file_response(await library.file(db, user.id, image_id, variant), request)


@router.get("/api/thumbnails/{file_name}")
async def thumbnail(file_name: str, request: Request, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """A 128 px thumbnail by file name (seed 003)."""
    match = THUMBNAIL_NAME.fullmatch(file_name)
    if match is None:
        raise NotFound("No thumbnail with this name.")
    try:
        content = await library.file(db, user.id, match.group(1), "thumb")
    except NotFound:
        raise NotFound("No thumbnail with this name.") from None
    return file_response(content, request)


# ---- trash ---------------------------------------------------------------------------------------------


@router.get("/api/trash", response_model=TrashList)
async def list_trash(user: CurrentUser, db: Db, library: LibraryDep) -> TrashList:
    """Trashed images and folders, with when each will be deleted for good."""
    images, folders = await library.trash(db, user.id)
    items = [
        TrashItem(
            id=i.id, type="image", name=i.title, deleted_at=i.deleted_at, purge_after=library.purge_after(i.deleted_at)
        )
        for i in images
        if i.deleted_at
    ]
    items += [
        TrashItem(
            id=f.id, type="folder", name=f.name, deleted_at=f.deleted_at, purge_after=library.purge_after(f.deleted_at)
        )
        for f in folders
        if f.deleted_at
    ]
    return TrashList(items=sorted(items, key=lambda item: item.deleted_at, reverse=True))


@router.post("/api/trash/{item_id}/restore")
async def restore(item_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> dict[str, str]:
    """Take an image or folder (with what was trashed along with it) out of the trash."""
    return {"id": item_id, "type": await library.restore(db, user.id, item_id), "status": "restored"}


@router.post("/api/admin/maintenance")
async def maintenance(_admin: AdminUser, request: Request) -> dict[str, int]:
    """Run housekeeping now: purge expired trash, finish interrupted writes, drop stale uploads (admins only)."""
    state = request.app.state
    report = await run_maintenance(state.sessions, state.library, state.uploads)
    return report.__dict__


# ---- preferences (seed 001) ----------------------------------------------------------------------------


@router.post("/api/custom/preferences/get", response_model=PreferencesOut)
async def get_preferences(body: PreferencesQuery, user: CurrentUser, db: Db, library: LibraryDep) -> PreferencesOut:
    """Saved preferences for one model."""
    found = await library.preferences(db, user.id, body.model_name)
    return PreferencesOut(model_name=body.model_name, has_preferences=found is not None, preferences=found or {})


@router.post("/api/custom/preferences/save", response_model=Saved)
async def save_preferences(body: PreferencesSave, user: CurrentUser, db: Db, library: LibraryDep) -> Saved:
    """Save (replace) preferences for one model."""
    await library.save_preferences(db, user.id, body.model_name, body.preferences)
    return Saved(message="Preferences saved successfully")


# ---- collection items (seed 002) ----------------------------------------------------------------------


@router.get("/collection/items", response_model=Page[CollectionItemOut])
async def list_items(
    request: Request, user: CurrentUser, db: Db, settings: SettingsDep, pagination: Pagination
) -> Page[CollectionItemOut]:
    """The user's collection, newest first."""
    rows, total = await repository.images(
        db, user.id, folder_id=None, source="collection", offset=pagination.offset, limit=pagination.per_page
    )
    base = base_url(request, settings)
    return Page.of([item_out(i, b, base) for i, b in rows], pagination, total)


@router.post("/collection/items", response_model=CollectionItemOut, status_code=status.HTTP_201_CREATED)
async def add_item(
    request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep
) -> CollectionItemOut:
    """Add an item: multipart (`image`, `title`, optional `metadata` JSON) or JSON `{title, image_base64}`."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await read_upload_form(request, "image", settings.max_file_size)
        if form.file is None:
            raise ValidationFailed("The form has no `image` field.")
        fields = {k: v for k, v in form.fields.items() if k != "metadata"}
        body = parse_as(
            CollectionItemJson,
            {**fields, "image_base64": "-", "metadata": _json_object(form.fields.get("metadata") or "{}", "metadata")},
        )
        data = form.file
    else:
        raw = await read_capped_body(request, settings.max_file_size * 4 // 3 + FORM_OVERHEAD)
        body = parse_as(CollectionItemJson, _json_object(raw, "The request body"))
        data = _decode_base64(body.image_base64)
        if len(data) > settings.max_file_size:
            raise too_large(settings.max_file_size)
    image, blob = await library.add_image(
        db, user.id, data, title=body.title, source="collection", details=body.metadata
    )
    return item_out(image, blob, base_url(request, settings))


@router.delete("/collection/items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_item(item_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """Remove an item and its files for good."""
    await library.remove_image(db, user.id, item_id, source="collection")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/collection/items/{item_id}/image", response_model=CollectionImage)
async def item_image(item_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> CollectionImage:
    """The item's original image, base64-encoded."""
    image, blob = await library.image(db, user.id, item_id)
    if image.source != "collection":
        raise NotFound("No collection item with this id.")
    content = await library.blob_file(blob, "original")
    return CollectionImage(image=base64.b64encode(content.data).decode(), content_type=content.content_type)


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """``raw`` parsed as a JSON object, or a 400 naming ``what``."""
    try:
        value = loads_strict(raw)
    except BodyError:
        value = None
    if not isinstance(value, dict):
        raise ValidationFailed(f"{what} must be a JSON object.")
    return value


def _decode_base64(text: str) -> bytes:
    payload = text.split(",", 1)[1] if text.startswith("data:") and "," in text else text
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("image_base64 is not valid base64.") from None


# ---- direct uploads (seed 004) -------------------------------------------------------------------------


@router.post("/api/upload/presigned-url", response_model=PresignedUploadOut)
async def presigned_url(
    body: PresignRequest, request: Request, user: CurrentUser, uploads: UploadsDep, settings: SettingsDep
) -> PresignedUploadOut:
    """A URL (and form fields) to upload one image straight to storage; type and size are checked first."""
    key, grant = uploads.presign(user.id, body.filename, body.content_type, body.size, base_url(request, settings))
    return PresignedUploadOut(
        upload_url=grant.url, method=grant.method, fields=grant.fields, key=key, expires_in=uploads.expires_s
    )


@router.post("/api/upload/confirm", response_model=ImageOut)
async def confirm_upload(
    body: ConfirmRequest, request: Request, user: CurrentUser, db: Db, uploads: UploadsDep, settings: SettingsDep
) -> ImageOut:
    """Validate the uploaded object and make it an image; a bad file is deleted and refused."""
    image, blob = await uploads.confirm(db, user.id, body.key)
    return image_out(image, blob, base_url(request, settings))


@router.get("/api/upload/download-url/{key:path}", response_model=DownloadUrlOut)
async def download_url(
    key: str, request: Request, user: CurrentUser, db: Db, uploads: UploadsDep, settings: SettingsDep
) -> DownloadUrlOut:
    """Expiring URLs for a confirmed upload: the original, its thumbnail and its 512 px square."""
    urls = await uploads.download_urls(db, user.id, key, base_url(request, settings))
    return DownloadUrlOut(
        url=urls.url, expires_in=uploads.expires_s, thumbnail_url=urls.thumbnail_url, square_url=urls.square_url
    )

"""Artboard's own gallery routes: images, their files, seed 003's thumbnails, the trash and housekeeping."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from artboard.auth.deps import AdminUser, CurrentUser
from artboard.deps import Db, LibraryDep, MaintenanceDep, SettingsDep
from artboard.errors import ValidationFailed
from artboard.kit.body import parse_as
from artboard.kit.pagination import Page, Pagination
from artboard.library.replies import base_url, file_response, image_out
from artboard.library.schemas import ImageOut, ImagePatch, ImageUploadFields, TrashItem, TrashList
from artboard.media.upload import read_upload_form
from artboard.models.base import ID_PATTERN
from artboard.openapi import ADMIN_ONLY, BODY, FILE, TEXT, errors, image_bytes, object_schema, request_body

router = APIRouter(tags=["gallery"], responses=errors(401))
_UPLOAD = request_body(
    {
        "multipart/form-data": object_schema(
            {
                "file": FILE,
                "title": {**TEXT, "description": "Defaults to the file's name."},
                "folder_id": {**TEXT, "pattern": f"^({ID_PATTERN})?$", "description": "Empty: in no folder."},
            },
            ["file"],
        )
    }
)
_UPLOAD_REFUSED = "Not a multipart form, no `file`, a malformed `folder_id`, or a file that is not an accepted image."


@router.get("/api/images", response_model=Page[ImageOut])
async def list_images(
    request: Request,
    user: CurrentUser,
    db: Db,
    library: LibraryDep,
    settings: SettingsDep,
    pagination: Pagination,
    folder_id: Annotated[
        str | None,
        Query(
            pattern=f"^({ID_PATTERN})?$",
            description="Only this folder's images; empty (`?folder_id=`) for the images in no folder.",
        ),
    ] = None,
) -> Page[ImageOut]:
    """The user's images, newest first: all of them, one folder's, or those in no folder."""
    rows, total = await library.images_page(
        db, user.id, pagination, folder_id=folder_id or None, unfiled=folder_id == ""
    )
    base = base_url(request, settings)
    return Page.of([image_out(i, b, base) for i, b in rows], pagination, total)


@router.post(
    "/api/images",
    response_model=ImageOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD,
    responses=errors(*BODY, 403, 404, notes={400: _UPLOAD_REFUSED, 413: "The file is too large, or over the quota."}),
)
async def upload_image(
    request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep
) -> ImageOut:
    """Upload an image: multipart with the file in `file`, optional `title` and `folder_id`."""
    form = await read_upload_form(request, "file", settings.max_file_size)
    if form.file is None:
        raise ValidationFailed("The form has no `file` field.")
    fields = parse_as(ImageUploadFields, form.fields)
    title = fields.title if fields.title is not None else (form.filename or "").replace("\x00", "")[:300]
    folder_id = form.fields.get("folder_id") or None
    image, blob = await library.add_image(db, user.id, form.file, title=title, folder_id=folder_id)
    return image_out(image, blob, base_url(request, settings))


@router.get("/api/images/{image_id}", response_model=ImageOut, responses=errors(404))
async def get_image(
    image_id: str, request: Request, user: CurrentUser, db: Db, library: LibraryDep, settings: SettingsDep
) -> ImageOut:
    """One image."""
    return image_out(*await library.image(db, user.id, image_id), base_url(request, settings))


@router.patch("/api/images/{image_id}", response_model=ImageOut, responses=errors(*BODY, 403, 404))
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


@router.delete("/api/images/{image_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(403, 404))
async def delete_image(image_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """Move the image to the trash."""
    await library.trash_image(db, user.id, image_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api/images/{image_id}/file",
    response_class=Response,
    responses={
        **image_bytes("The original (its own type), or the JPEG thumbnail or square.", etag=True),
        **errors(400, 404, notes={400: "An unknown `variant`."}),
    },
)
async def image_file(
    image_id: str, request: Request, user: CurrentUser, db: Db, library: LibraryDep, variant: str = "original"
) -> Response:
    """The image's bytes: `original`, `thumb` (128 px) or `square` (512 px, letterboxed)."""
    return file_response(await library.file(db, user.id, image_id, variant), request)


@router.get(
    "/api/thumbnails/{file_name}",
    response_class=Response,
    responses={**image_bytes("The 128 px JPEG thumbnail.", ["image/jpeg"], etag=True), **errors(404)},
)
async def thumbnail(file_name: str, request: Request, user: CurrentUser, db: Db, library: LibraryDep) -> Response:
    """A 128 px thumbnail by file name, `thumbnail_<image id>.jpg` (seed 003)."""
    return file_response(await library.thumbnail(db, user.id, file_name), request)


@router.get("/api/trash", response_model=TrashList)
async def list_trash(user: CurrentUser, db: Db, library: LibraryDep) -> TrashList:
    """Trashed images and folders, with when each will be deleted for good."""
    entries = await library.trash(db, user.id)
    return TrashList(items=[TrashItem.model_validate(entry, from_attributes=True) for entry in entries])


@router.post("/api/trash/{item_id}/restore", responses=errors(403, 404))
async def restore(item_id: str, user: CurrentUser, db: Db, library: LibraryDep) -> dict[str, str]:
    """Take an image or folder (with what was trashed along with it) out of the trash."""
    return {"id": item_id, "type": await library.restore(db, user.id, item_id), "status": "restored"}


@router.post("/api/admin/maintenance", responses=ADMIN_ONLY)
async def maintenance(_admin: AdminUser, maintenance: MaintenanceDep) -> dict[str, int]:
    """Run housekeeping now: purge expired trash, finish interrupted writes, drop stale uploads (admins only)."""
    return (await maintenance.run()).__dict__

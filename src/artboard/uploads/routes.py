"""Seed 004's direct uploads, and the URLs Artboard signs for itself when files are stored locally.

A client asks for a presigned URL, puts the bytes straight into storage, then confirms the key. With S3 the
URLs are S3's own; with local storage, ``/api/storage/upload`` and ``/api/storage/files/{token}`` stand in
for S3's presigned POST and GET, so the same client flow works without a bucket.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from artboard.auth.deps import CurrentUser
from artboard.deps import Db, SettingsDep, UploadsDep
from artboard.library.replies import base_url, image_out
from artboard.library.schemas import ImageOut
from artboard.media.storage import DOWNLOAD_ROUTE, UPLOAD_ROUTE
from artboard.media.upload import read_upload_form
from artboard.openapi import BODY, FILE, TEXT, errors, image_bytes, object_schema, request_body
from artboard.uploads.schemas import ConfirmRequest, DownloadUrlOut, PresignedUploadOut, PresignRequest

router = APIRouter(tags=["uploads"])
# The form fields `/api/upload/presigned-url` issued, as issued, and the file.
_SIGNED_UPLOAD = request_body(
    {
        "multipart/form-data": object_schema(
            {"key": TEXT, "Content-Type": TEXT, "token": TEXT, "file": FILE}, ["key", "Content-Type", "token", "file"]
        )
    }
)


@router.post(
    "/api/upload/presigned-url",
    response_model=PresignedUploadOut,
    responses=errors(*BODY, 401, 403, notes={413: "The file would be larger than the upload limit."}),
)
async def presigned_url(
    body: PresignRequest, request: Request, user: CurrentUser, uploads: UploadsDep, settings: SettingsDep
) -> PresignedUploadOut:
    """A URL (and form fields) to upload one image straight to storage; type and size are checked first."""
    key, grant = uploads.presign(user.id, body.filename, body.content_type, body.size, base_url(request, settings))
    return PresignedUploadOut(
        upload_url=grant.url, method=grant.method, fields=grant.fields, key=key, expires_in=uploads.expires_s
    )


@router.post(
    "/api/upload/confirm",
    response_model=ImageOut,
    responses=errors(*BODY, 401, 403, 404, notes={400: "The uploaded file is not an accepted image (it is deleted)."}),
)
async def confirm_upload(
    body: ConfirmRequest, request: Request, user: CurrentUser, db: Db, uploads: UploadsDep, settings: SettingsDep
) -> ImageOut:
    """Validate the uploaded object and make it an image; a bad file is deleted and refused."""
    image, blob = await uploads.confirm(db, user.id, body.key)
    return image_out(image, blob, base_url(request, settings))


@router.get("/api/upload/download-url/{key:path}", response_model=DownloadUrlOut, responses=errors(401, 404))
async def download_url(
    key: str, request: Request, user: CurrentUser, db: Db, uploads: UploadsDep, settings: SettingsDep
) -> DownloadUrlOut:
    """Expiring URLs for a confirmed upload: the original, its thumbnail and its 512 px square."""
    urls = await uploads.download_urls(db, user.id, key, base_url(request, settings))
    return DownloadUrlOut(
        url=urls.url, expires_in=uploads.expires_s, thumbnail_url=urls.thumbnail_url, square_url=urls.square_url
    )


@router.post(
    UPLOAD_ROUTE,
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra=_SIGNED_UPLOAD,
    responses=errors(*BODY, 401, notes={401: "The upload URL is invalid or has expired."}),
)
async def signed_upload(request: Request, uploads: UploadsDep) -> Response:
    """Receive a presigned upload (form fields as issued, plus `file`), as an S3 POST policy would."""
    form = await read_upload_form(request, "file", uploads.max_file_size)
    await uploads.receive(form.fields, form.file)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    DOWNLOAD_ROUTE + "/{token}",
    response_class=Response,
    responses={
        **image_bytes("The file the link names (an original in its own type)."),
        **errors(404, notes={404: "The link is invalid or has expired."}),
    },
)
async def signed_download(token: str, uploads: UploadsDep) -> Response:
    """Serve a file named by a signed, expiring token (originals come out of their archive)."""
    data, content_type = await uploads.signed_file(token)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=300"})

"""The URLs Artboard signs for itself when files are stored locally: direct upload and signed download.

They stand in for S3's presigned POST and GET, so the seed 004 client flow works without a bucket.
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request, Response, status

from artboard.errors import AuthenticationFailed, NotFound, ValidationFailed
from artboard.kit.body import too_large
from artboard.kit.signing import UrlSigner
from artboard.media.derivatives import read_archived
from artboard.media.storage import DOWNLOAD_ROUTE, UPLOAD_ROUTE, Storage
from artboard.media.upload import read_upload_form

router = APIRouter(tags=["storage"])


def _storage(request: Request) -> tuple[Storage, UrlSigner]:
    return request.app.state.storage, request.app.state.storage_signer


@router.post(UPLOAD_ROUTE, status_code=status.HTTP_204_NO_CONTENT)
async def upload(request: Request) -> Response:
    """Receive a presigned upload (form fields as issued, plus `file`), as an S3 POST policy would."""
    storage, signer = _storage(request)
    max_file_size: int = request.app.state.settings.max_file_size
    form = await read_upload_form(request, "file", max_file_size)
    grant = signer.verify(form.fields.get("token", ""))
    if grant is None or grant.get("op") != "put":
        raise AuthenticationFailed("The upload URL is invalid or has expired.")
    if form.fields.get("key") != grant["key"] or form.fields.get("Content-Type") != grant["type"]:
        raise ValidationFailed("The form fields do not match the ones this upload URL was issued with.")
    if form.file is None:
        raise ValidationFailed("The form has no `file` field.")
    if len(form.file) > int(grant["max"]):
        raise too_large(int(grant["max"]))
    await storage.put(grant["key"], form.file, grant["type"])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(DOWNLOAD_ROUTE + "/{token}")
async def download(token: str, request: Request) -> Response:
    """Serve a file named by a signed, expiring token (originals come out of their archive)."""
    storage, signer = _storage(request)
    grant = signer.verify(token)
    if grant is None or grant.get("op") != "get":
        raise NotFound("This download link is invalid or has expired.")
    data = await storage.get(grant["key"])
    if grant.get("archived"):
        data, content_type = read_archived(data), str(grant["type"])
    else:
        content_type = mimetypes.guess_type(grant["key"])[0] or "application/octet-stream"
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=300"})

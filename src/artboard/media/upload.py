"""Reading uploads without trusting their size: the body is counted while it streams and cut off at the cap."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from artboard.errors import PayloadTooLarge, ValidationFailed

# Room for the form's other fields and multipart boundaries on top of the file itself.
FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class UploadedForm:
    file: bytes | None
    filename: str | None
    fields: dict[str, str]


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The file is larger than the {limit // (1024 * 1024)} MiB limit.", detail={"limit": limit})


async def capped_stream(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit - FORM_OVERHEAD if limit > FORM_OVERHEAD else limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large(limit)
        yield chunk


async def read_capped_body(request: Request, limit: int) -> bytes:
    return b"".join([chunk async for chunk in capped_stream(request, limit)])


async def read_upload_form(request: Request, file_field: str, max_file_size: int) -> UploadedForm:
    """Parse a multipart form whose ``file_field`` holds the upload; 413 before the body is read past the cap."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("Send the file as multipart/form-data.")
    parser = MultiPartParser(
        request.headers, capped_stream(request, max_file_size + FORM_OVERHEAD), max_files=1, max_fields=50
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ValidationFailed(f"The multipart body could not be read ({exc.message}).") from None
    try:
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        upload = form.get(file_field)
        if not isinstance(upload, UploadFile):
            return UploadedForm(None, None, fields)
        data = await upload.read()
        if len(data) > max_file_size:
            raise too_large(max_file_size)
        return UploadedForm(data, upload.filename, fields)
    finally:
        await form.close()

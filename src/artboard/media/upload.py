"""Reading uploads without trusting their size: the body is counted while it streams and cut off at the cap."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from artboard.errors import InvalidField, ValidationFailed
from artboard.kit.body import Unstorable, check_storable, too_large


@dataclass(frozen=True)
class UploadedForm:
    file: bytes | None
    filename: str | None
    fields: dict[str, str]


async def read_upload_form(request: Request, file_field: str, max_file_size: int) -> UploadedForm:
    """Parse a multipart form whose ``file_field`` holds the upload; 413 before the body is read past the cap."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ValidationFailed("Send the file as multipart/form-data.")
    # The body's size is capped while it streams, for every upload route, by kit/limits.py.
    parser = MultiPartParser(request.headers, request.stream(), max_files=1, max_fields=50)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ValidationFailed(f"The multipart body could not be read ({exc.message}).") from None
    try:
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        try:
            check_storable(fields)  # an upload's form is streamed past kit/limits.py, which checks smaller ones
        except Unstorable as exc:
            raise InvalidField(exc.field, exc.problem) from None
        upload = form.get(file_field)
        if not isinstance(upload, UploadFile):
            return UploadedForm(None, None, fields)
        data = await upload.read()
        if len(data) > max_file_size:
            raise too_large(max_file_size)
        return UploadedForm(data, upload.filename, fields)
    finally:
        await form.close()

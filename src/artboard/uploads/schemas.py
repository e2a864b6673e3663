"""Request and response models of the direct-upload routes (seed 004)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from artboard.kit.body import CleanText

Filename = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), CleanText]
StorageKey = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PresignRequest(BaseModel):
    filename: Filename
    content_type: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=100)]
    size: Annotated[int, Field(gt=0)]


class PresignedUploadOut(BaseModel):
    upload_url: str
    method: str
    fields: dict[str, str]
    key: str
    expires_in: int


class ConfirmRequest(BaseModel):
    key: StorageKey


class DownloadUrlOut(BaseModel):
    url: str
    expires_in: int
    thumbnail_url: str
    square_url: str

"""Where bytes live: local files under the data dir, or an S3-compatible bucket, behind one interface.

Both give presigned upload and download URLs. S3's are real s3v4 presigned POST policies and GET URLs;
local ones are HMAC-signed URLs that Artboard serves itself, with the same form fields, so a client's
direct-upload code works unchanged on a laptop and against S3.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from artboard.config import Settings, private_dirs
from artboard.errors import NotFound
from artboard.kit.signing import UrlSigner

UPLOAD_ROUTE = "/api/storage/upload"
DOWNLOAD_ROUTE = "/api/storage/files"


_SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")


def is_plain_key(key: str) -> bool:
    """Slash-separated segments of a small alphabet, none of them ``.``, ``..`` or empty, no leading slash."""
    return len(key) <= 512 and all(_SEGMENT.match(segment) for segment in key.split("/"))


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    method: str
    fields: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; raises NotFound when there is none."""

    async def stat(self, key: str) -> StoredObject | None: ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (deletes are retried after crashes)."""

    def listing(self, prefix: str) -> AsyncIterator[StoredObject]: ...

    def presign_upload(
        self, key: str, content_type: str, max_size: int, expires_s: int, base_url: str
    ) -> PresignedUpload: ...

    def presign_download(self, key: str, expires_s: int, base_url: str) -> str: ...


class LocalStorage:
    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self.root = root
        self._signer = signer

    def path(self, key: str) -> Path:
        """The file for a key; a key that is not plain relative segments (``..``, ``.``, empty) is refused."""
        if not is_plain_key(key):
            raise NotFound("No such file.")
        return self.root / key

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write_atomically, self.path(key), data)

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        """Write through a temporary file (0600, from mkstemp) in directories made 0700: users' files stay private."""
        private_dirs(path.parent)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound("No such file.") from None

    async def stat(self, key: str) -> StoredObject | None:
        try:
            info = self.path(key).stat()
        except (FileNotFoundError, NotFound):
            return None
        return StoredObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    async def listing(self, prefix: str) -> AsyncIterator[StoredObject]:
        base = self.root / prefix
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".incoming-"):
                info = path.stat()
                key = path.relative_to(self.root).as_posix()
                yield StoredObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def presign_upload(
        self, key: str, content_type: str, max_size: int, expires_s: int, base_url: str
    ) -> PresignedUpload:
        token = self._signer.sign({"op": "put", "key": key, "type": content_type, "max": max_size}, expires_s)
        fields = {"key": key, "Content-Type": content_type, "token": token}
        return PresignedUpload(f"{base_url}{UPLOAD_ROUTE}", "POST", fields)

    def presign_download(self, key: str, expires_s: int, base_url: str) -> str:
        return f"{base_url}{DOWNLOAD_ROUTE}/{self._signer.sign({'op': 'get', 'key': key}, expires_s)}"


@dataclass(frozen=True)
class S3Config:
    bucket: str
    region: str
    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None


class S3Storage:
    """boto3 is synchronous: every call runs in a worker thread."""

    def __init__(self, config: S3Config) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = config.bucket
        self._client: Any = boto3.client(
            "s3",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            aws_access_key_id=config.access_key_id,
            aws_secret_access_key=config.secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object, Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
        )

    async def get(self, key: str) -> bytes:
        try:
            response = await asyncio.to_thread(self._client.get_object, Bucket=self.bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise NotFound("No such file.") from None
        body: bytes = await asyncio.to_thread(response["Body"].read)
        return body

    async def stat(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(self._client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(key, int(head["ContentLength"]), head["LastModified"])

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=key)

    async def listing(self, prefix: str) -> AsyncIterator[StoredObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = await asyncio.to_thread(lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)))
        for page in pages:
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"], int(item["Size"]), item["LastModified"])

    def presign_upload(
        self, key: str, content_type: str, max_size: int, expires_s: int, base_url: str
    ) -> PresignedUpload:
        post = self._client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_size]],
            ExpiresIn=expires_s,
        )
        return PresignedUpload(post["url"], "POST", dict(post["fields"]))

    def presign_download(self, key: str, expires_s: int, base_url: str) -> str:
        url: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_s
        )
        return url


def build_storage(settings: Settings, signer: UrlSigner) -> Storage:
    """S3 when a bucket is configured, else files under the data dir."""
    if settings.s3_bucket:
        return S3Storage(
            S3Config(
                settings.s3_bucket,
                settings.s3_region,
                settings.s3_endpoint_url,
                settings.s3_access_key_id,
                settings.s3_secret_access_key,
            )
        )
    return LocalStorage(settings.data_dir / "files", signer)

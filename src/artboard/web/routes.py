"""Serve the studio: ``GET /`` is its page and ``/studio/<file>`` its scripts, styles and icons.

The studio is static files that talk to the public API like any client; nothing here reads the database or
calls a service. The page's Content-Security-Policy lets it load and connect to this server only (and to the
S3 endpoint when files live there: uploads and pictures then go straight to the bucket).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from artboard import __version__
from artboard.config import Settings
from artboard.deps import SettingsDep
from artboard.errors import NotFound
from artboard.kit.etag import unchanged

STATIC = Path(__file__).parent / "static"
ASSETS = "/studio"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}
# Browsers revalidate every time (a cheap 304 by ETag), so a new version shows after an upgrade without a
# build step that would fingerprint file names.
REVALIDATE = "no-cache"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def studio_page(request: Request, settings: SettingsDep) -> Response:
    return _serve(STATIC / "index.html", request, content_security_policy(settings))


@router.get(ASSETS + "/{path:path}")
async def studio_asset(path: str, request: Request) -> Response:
    file = _static_file(path)
    if file is None:
        raise NotFound("There is no such studio file.")
    return _serve(file, request, None)


def content_security_policy(settings: Settings) -> str:
    """Self only; plus the S3 origin that presigned uploads and file URLs point at, when S3 holds the files."""
    extra = f" {origin}" if (origin := _s3_origin(settings)) else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' blob: data:{extra}; connect-src 'self'{extra}; "
        "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )


def _s3_origin(settings: Settings) -> str | None:
    if not settings.s3_bucket:
        return None
    endpoint = settings.s3_endpoint_url or f"https://s3.{settings.s3_region}.amazonaws.com"
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _static_file(path: str) -> Path | None:
    """The file under STATIC that ``path`` names, or None (unknown type, missing, or outside the folder)."""
    if not path or "\\" in path or "\x00" in path:
        return None
    candidate = (STATIC / path).resolve()
    root = STATIC.resolve()
    if root not in candidate.parents or candidate.suffix not in TYPES or not candidate.is_file():
        return None
    return candidate


@cache
def _etag(file: Path, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:20]
    return f'"{__version__}-{digest}"'


def _serve(file: Path, request: Request, policy: str | None) -> Response:
    stat = file.stat()
    etag = _etag(file, stat.st_mtime_ns, stat.st_size)
    headers = {"Cache-Control": REVALIDATE, "ETag": etag}
    if policy is not None:
        headers["Content-Security-Policy"] = policy
    if unchanged(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return FileResponse(file, media_type=TYPES[file.suffix], headers=headers, stat_result=stat)

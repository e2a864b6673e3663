"""Request plumbing: the access log holds no credentials, even those that travel in a URL path."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest

from artboard.logs import ACCESS_LOG
from tests import photos
from tests.media.test_validation import upload
from tests.support import live_server, register_and_login


def test_signed_download_tokens_are_not_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    written = io.StringIO()
    with live_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        account = register_and_login(client)
        grant = client.post(
            "/api/upload/presigned-url",
            headers=account.headers,
            json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 100},
        ).json()
        httpx.post(grant["upload_url"], data=grant["fields"], files={"file": ("a.jpg", photos.flower())})
        client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers).raise_for_status()
        urls = client.get(f"/api/upload/download-url/{grant['key']}", headers=account.headers).json()
        token = urls["url"].rsplit("/", 1)[1]
        monkeypatch.setattr(ACCESS_LOG, "stream", written)
        monkeypatch.setattr(ACCESS_LOG, "enabled", True)
        assert httpx.get(urls["url"]).status_code == 200
        upload(client, account, photos.flower())
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    assert all(line["logger"] == "artboard.access" and line["level"] == "info" for line in lines)
    paths = [line["path"] for line in lines]
    assert "/api/storage/files/<redacted>" in paths and "/api/images" in paths
    assert token not in written.getvalue() and account.access_token not in written.getvalue()

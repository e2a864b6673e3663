"""Seed 004's direct upload flow, on local storage (Artboard-signed URLs) and on S3 (a real S3 server)."""

from __future__ import annotations

import base64
import calendar
import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests import photos
from tests.support import BUCKET, Account, LiveServer, assert_envelope, live_server, register_and_login


@pytest.fixture(scope="module", params=["local", "s3"])
def storage_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp(f"uploads-{request.param}")
    if request.param == "local":
        with live_server(data_dir, max_file_size=200_000) as server:
            yield server
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    s3 = {
        "s3_bucket": BUCKET,
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": "test",
        "s3_secret_access_key": "test",
        "s3_region": "us-east-1",
    }
    with live_server(data_dir, max_file_size=200_000, **s3) as server:
        yield server


@pytest.fixture
def uploader(storage_server: LiveServer) -> Iterator[tuple[httpx.Client, Account]]:
    with httpx.Client(base_url=storage_server.url, timeout=30) as client:
        yield client, register_and_login(client, "uploader")


def presign(
    client: httpx.Client,
    account: Account,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    size: int = 1000,
) -> httpx.Response:
    return client.post(
        "/api/upload/presigned-url",
        json={"filename": filename, "content_type": content_type, "size": size},
        headers=account.headers,
    )


def put_object(grant: dict[str, object], data: bytes, content_type: str = "image/jpeg") -> httpx.Response:
    fields = grant["fields"]
    assert isinstance(fields, dict)
    return httpx.post(str(grant["upload_url"]), data=fields, files={"file": ("upload", data, content_type)})


def test_presign_upload_confirm_download(uploader: tuple[httpx.Client, Account]) -> None:
    client, account = uploader
    response = presign(client, account, "holiday photo.jpg", "image/jpeg", len(photos.flower()))
    assert response.status_code == 200
    grant = response.json()
    assert grant["method"] == "POST" and grant["expires_in"] == 900
    assert grant["key"].startswith(f"incoming/{account.user['id']}/") and grant["key"].endswith("holiday_photo.jpg")
    assert put_object(grant, photos.flower()).status_code in (200, 201, 204)

    confirmed = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers)
    assert confirmed.status_code == 200, confirmed.text
    image = confirmed.json()
    assert image["source"] == "presigned" and image["width"] == 480
    again = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers)
    assert again.json()["id"] == image["id"]

    urls = client.get(f"/api/upload/download-url/{grant['key']}", headers=account.headers).json()
    assert urls["expires_in"] == 900
    original = httpx.get(urls["url"])
    assert original.status_code == 200 and original.content == photos.flower()
    assert original.headers["content-type"] == "image/jpeg"
    thumb = httpx.get(urls["thumbnail_url"])
    assert thumb.status_code == 200 and photos.decode(thumb.content).size == (128, 96)
    assert photos.decode(httpx.get(urls["square_url"]).content).size == (512, 512)


def test_type_and_size_are_checked_before_any_upload(uploader: tuple[httpx.Client, Account]) -> None:
    client, account = uploader
    assert_envelope(presign(client, account, content_type="application/pdf"), 400, "validation_error")
    assert_envelope(presign(client, account, size=200_001), 413, "payload_too_large")
    assert_envelope(presign(client, account, size=0), 422, "validation_error")
    assert_envelope(presign(client, account, filename=""), 422, "validation_error")


def test_a_bad_file_is_refused_at_confirm_and_deleted(uploader: tuple[httpx.Client, Account]) -> None:
    client, account = uploader
    grant = presign(client, account, "evil.jpg").json()
    put_object(grant, b"<html>not an image</html>")
    refused = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers)
    assert_envelope(refused, 400, "validation_error")
    gone = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers)
    assert_envelope(gone, 404, "not_found")


def test_confirm_of_a_missing_or_foreign_key_is_404(uploader: tuple[httpx.Client, Account]) -> None:
    client, account = uploader
    grant = presign(client, account).json()
    assert_envelope(
        client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers), 404, "not_found"
    )
    for key in ("users/someone/x.zip", "incoming/otheruser000000/a/b.jpg", "../../secret.key"):
        response = client.post("/api/upload/confirm", json={"key": key}, headers=account.headers)
        assert_envelope(response, 404, "not_found")
    assert_envelope(client.get("/api/upload/download-url/incoming/nope", headers=account.headers), 404, "not_found")


def test_path_traversal_in_the_file_name_stays_inside_the_users_namespace(
    uploader: tuple[httpx.Client, Account],
) -> None:
    client, account = uploader
    key = presign(client, account, "../../../etc/passwd").json()["key"]
    prefix = f"incoming/{account.user['id']}/"
    assert key.startswith(prefix) and ".." not in key and key.count("/") == 3


def test_s3_grants_are_signed_with_expiry_type_and_size_range(s3_endpoint: str, tmp_path: Path) -> None:
    """moto does not check signatures, so the policy and URLs themselves are checked here."""
    s3 = {
        "s3_bucket": BUCKET,
        "s3_endpoint_url": s3_endpoint,
        "s3_access_key_id": "test",
        "s3_secret_access_key": "test",
        "presigned_url_expiration_s": 600,
    }
    with live_server(tmp_path, max_file_size=300_000, **s3) as server, httpx.Client(base_url=server.url) as client:
        account = register_and_login(client)
        grant = presign(client, account, content_type="image/png").json()
        assert grant["upload_url"].startswith(f"{s3_endpoint}/{BUCKET}")
        fields = grant["fields"]
        assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and fields["x-amz-signature"]
        policy = json.loads(base64.b64decode(fields["policy"]))
        assert {"Content-Type": "image/png"} in policy["conditions"]
        assert ["content-length-range", 1, 300_000] in policy["conditions"]
        expires = calendar.timegm(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
        assert 590 <= expires - time.time() <= 610

        put_object(grant, photos.photo("hopper.png"), "image/png").raise_for_status()
        client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers).raise_for_status()
        urls = client.get(f"/api/upload/download-url/{grant['key']}", headers=account.headers).json()
        query = parse_qs(urlsplit(urls["thumbnail_url"]).query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["600"]
        assert query["X-Amz-Signature"][0]


def test_local_grants_cannot_be_forged_or_reused_for_another_key(tmp_path: Path) -> None:
    with live_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        account = register_and_login(client)
        grant = presign(client, account).json()
        forged = {**grant, "fields": {**grant["fields"], "token": grant["fields"]["token"][:-2] + "xx"}}
        assert_envelope(put_object(forged, photos.flower()), 401, "authentication_error")
        elsewhere = {**grant, "fields": {**grant["fields"], "key": "users/victim/thumb.jpg"}}
        assert_envelope(put_object(elsewhere, photos.flower()), 400, "validation_error")
        other_type = {**grant, "fields": {**grant["fields"], "Content-Type": "text/html"}}
        assert_envelope(put_object(other_type, photos.flower()), 400, "validation_error")
        bad_download = httpx.get(f"{server.url}/api/storage/files/not-a-token")
        assert_envelope(bad_download, 404, "not_found")


def test_keys_with_dot_segments_are_refused(tmp_path: Path) -> None:
    """`incoming/<me>/../<victim>/...` must not reach another user's upload or files."""
    with live_server(tmp_path) as server, httpx.Client(base_url=server.url) as client:
        victim, intruder = register_and_login(client, "victim"), register_and_login(client, "intruder")
        grant = presign(client, victim).json()
        put_object(grant, photos.flower())
        me = intruder.user["id"]
        attempts = [
            f"incoming/{me}/../{grant['key'].split('/', 1)[1]}",
            f"incoming/{me}/./../{grant['key'].split('/', 1)[1]}",
            f"incoming/{me}/../../users/{victim.user['id']}/x/original.zip",
            f"incoming/{me}//a.jpg",
            f"incoming/{me}/abc/../../x.jpg",
        ]
        for key in attempts:
            assert_envelope(
                client.post("/api/upload/confirm", json={"key": key}, headers=intruder.headers), 404, "not_found"
            )
        confirmed = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=victim.headers)
        assert confirmed.status_code == 200

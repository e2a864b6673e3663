"""Every upload passes one gate: type from the bytes, size capped while streaming, pixels capped before decoding."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import photos
from tests.support import Account, LiveServer, assert_envelope, live_server, register_and_login


def upload(
    client: httpx.Client, account: Account, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"
) -> httpx.Response:
    return client.post("/api/images", files={"file": (name, data, content_type)}, headers=account.headers)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("shell.png", b"<?php echo 'hi'; ?>" * 20, "image/png"),
        ("page.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg"),
        ("vector.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "image/png"),
        ("archive.gif", b"PK\x03\x04" + b"\x00" * 200, "image/gif"),
    ],
)
def test_a_file_disguised_by_its_name_is_refused(
    client: httpx.Client, account: Account, name: str, data: bytes, content_type: str
) -> None:
    body = assert_envelope(upload(client, account, data, name, content_type), 400, "validation_error")
    assert "not an image of an accepted type" in body["message"]


def test_an_image_type_that_is_not_allowed_is_refused(client: httpx.Client, account: Account) -> None:
    tiff = photos.photo("hopper.tif")
    body = assert_envelope(upload(client, account, tiff, "photo.jpg"), 400, "validation_error")
    assert "image/jpeg" in body["message"]


def test_an_empty_file_is_refused(client: httpx.Client, account: Account) -> None:
    body = assert_envelope(upload(client, account, b""), 400, "validation_error")
    assert body["message"] == "The file is empty."


def test_a_truncated_jpeg_is_refused(client: httpx.Client, account: Account) -> None:
    body = assert_envelope(upload(client, account, photos.truncated_jpeg()), 400, "validation_error")
    assert "truncated or corrupt" in body["message"]


def test_a_decompression_bomb_is_refused_before_decoding(client: httpx.Client, account: Account) -> None:
    bomb = photos.pixel_bomb_png()
    assert len(bomb) < 20_000
    body = assert_envelope(upload(client, account, bomb, "small.png", "image/png"), 400, "validation_error")
    assert "pixels" in body["message"]


def test_pillows_own_bomb_sample_is_refused(client: httpx.Client, account: Account) -> None:
    bomb = photos.photo("decompression_bomb.gif")
    assert_envelope(upload(client, account, bomb, "bomb.gif", "image/gif"), 400, "validation_error")


def test_a_form_without_the_file_field_is_refused(client: httpx.Client, account: Account) -> None:
    response = client.post(
        "/api/images", data={"title": "nothing"}, files={"other": ("x", b"1")}, headers=account.headers
    )
    assert_envelope(response, 400, "validation_error")
    not_multipart = client.post("/api/images", json={"file": "x"}, headers=account.headers)
    assert_envelope(not_multipart, 400, "validation_error")


@pytest.fixture(scope="module")
def small_limit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("small"), max_file_size=50_000) as server:
        yield server


def test_an_oversized_body_is_refused_with_413_before_it_is_read(small_limit: LiveServer) -> None:
    with httpx.Client(base_url=small_limit.url) as client:
        account = register_and_login(client)
        big = photos.photo("frozenpond.mpo")
        assert len(big) > 50_000
        body = assert_envelope(upload(client, account, big), 413, "payload_too_large")
        assert "limit" in body["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the cap must hold while streaming
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
            for _ in range(200):
                yield b"\xff" * 1024

        streamed = client.post(
            "/api/images",
            content=chunks(),
            headers={**account.headers, "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert_envelope(streamed, 413, "payload_too_large")
        assert upload(client, account, photos.flower()).status_code == 201


def test_size_and_types_come_from_configuration(tmp_path: Path) -> None:
    with live_server(tmp_path, allowed_file_types=["image/png"]) as server, httpx.Client(base_url=server.url) as c:
        account = register_and_login(c)
        assert_envelope(upload(c, account, photos.flower()), 400, "validation_error")
        assert upload(c, account, photos.photo("hopper.png"), "h.png", "image/png").status_code == 201

"""Artboard's image routes: upload, list by folder page by page, update, trash, files, and dedupe."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests import photos
from tests.media.test_validation import upload
from tests.support import Account, LiveServer, assert_envelope, live_server, register_and_login


def folder(client: httpx.Client, account: Account, name: str, parent_id: str | None = None) -> str:
    response = client.post(
        "/api/custom/collections/create", json={"name": name, "parent_id": parent_id}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_upload_with_title_and_folder(client: httpx.Client, account: Account) -> None:
    folder_id = folder(client, account, "Flowers")
    response = client.post(
        "/api/images",
        files={"file": ("f.jpg", photos.flower(), "image/jpeg")},
        data={"title": "Spring", "folder_id": folder_id},
        headers=account.headers,
    )
    assert response.status_code == 201
    image = response.json()
    assert image["title"] == "Spring" and image["folder_id"] == folder_id
    assert image["content_type"] == "image/jpeg" and image["size"] == len(photos.flower())
    assert image["thumbnail_url"].startswith("http://") and image["thumbnail_url"].endswith(
        f"/api/thumbnails/thumbnail_{image['id']}.jpg"
    )
    assert client.get(image["thumbnail_url"], headers=account.headers).status_code == 200
    assert client.get(f"/api/images/{image['id']}", headers=account.headers).json() == image


def test_upload_refuses_a_bad_or_foreign_folder(client: httpx.Client, account: Account) -> None:
    files = {"file": ("f.jpg", photos.flower(), "image/jpeg")}
    bad = client.post("/api/images", files=files, data={"folder_id": "../../etc"}, headers=account.headers)
    assert_envelope(bad, 400, "validation_error")
    missing = client.post("/api/images", files=files, data={"folder_id": "a" * 15}, headers=account.headers)
    assert_envelope(missing, 404, "not_found")


def test_list_is_paginated_and_filtered_by_folder(client: httpx.Client, account: Account) -> None:
    folder_id = folder(client, account, "Only")
    for name in ("flower.jpg", "flower2.jpg", "hopper.jpg"):
        client.post(
            "/api/images",
            files={"file": (name, photos.photo(name), "image/jpeg")},
            data={"folder_id": folder_id},
            headers=account.headers,
        ).raise_for_status()
    upload(client, account, photos.photo("hopper.png"), "h.png", "image/png")
    first = client.get("/api/images", params={"folder_id": folder_id, "per_page": 2}, headers=account.headers)
    page = first.json()
    assert page["total"] == 3 and page["total_pages"] == 2 and len(page["items"]) == 2
    second = client.get(
        "/api/images", params={"folder_id": folder_id, "per_page": 2, "page": 2}, headers=account.headers
    ).json()
    assert len(second["items"]) == 1
    assert client.get("/api/images", headers=account.headers).json()["total"] == 4
    bad = client.get("/api/images", params={"folder_id": "x"}, headers=account.headers)
    assert_envelope(bad, 422, "validation_error")


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("a\x00b", "must not contain NUL characters"),  # no database can hold it
        ("t" * 301, "String should have at most 300 characters"),  # what PATCH refuses is not cut short here
    ],
    ids=["NUL", "too long"],
)
def test_an_upload_title_refused_names_the_field(
    client: httpx.Client, account: Account, title: str, message: str
) -> None:
    response = client.post(
        "/api/images",
        files={"file": ("f.jpg", photos.flower(), "image/jpeg")},
        data={"title": title},
        headers=account.headers,
    )
    body = assert_envelope(response, 422, "validation_error")
    assert body["detail"] == [{"field": "title", "message": message}]
    assert client.get("/api/images", headers=account.headers).json()["total"] == 0


def test_an_upload_title_is_trimmed_as_patch_trims_it(client: httpx.Client, account: Account) -> None:
    response = client.post(
        "/api/images",
        files={"file": ("f.jpg", photos.flower(), "image/jpeg")},
        data={"title": "  Spring  "},
        headers=account.headers,
    )
    assert response.status_code == 201 and response.json()["title"] == "Spring"


def test_patch_renames_and_moves(client: httpx.Client, account: Account) -> None:
    image = upload(client, account, photos.flower()).json()
    target = folder(client, account, "Moved")
    moved = client.patch(
        f"/api/images/{image['id']}", json={"title": "Renamed", "folder_id": target}, headers=account.headers
    )
    assert moved.json()["title"] == "Renamed" and moved.json()["folder_id"] == target
    top = client.patch(f"/api/images/{image['id']}", json={"folder_id": None}, headers=account.headers)
    assert top.json()["folder_id"] is None
    unknown_field = client.patch(f"/api/images/{image['id']}", json={"owner_id": "x"}, headers=account.headers)
    assert_envelope(unknown_field, 422, "validation_error")


def test_delete_moves_to_trash(client: httpx.Client, account: Account) -> None:
    image = upload(client, account, photos.flower()).json()
    assert client.delete(f"/api/images/{image['id']}", headers=account.headers).status_code == 204
    assert_envelope(client.get(f"/api/images/{image['id']}", headers=account.headers), 404, "not_found")
    trash = client.get("/api/trash", headers=account.headers).json()["items"]
    assert any(item["id"] == image["id"] and item["type"] == "image" for item in trash)


def test_file_variant_must_be_known(client: httpx.Client, account: Account) -> None:
    image = upload(client, account, photos.flower()).json()
    response = client.get(f"/api/images/{image['id']}/file", params={"variant": "huge"}, headers=account.headers)
    assert_envelope(response, 400, "validation_error")


def test_identical_bytes_are_stored_once(server: LiveServer, client: httpx.Client, account: Account) -> None:
    first = upload(client, account, photos.photo("flower2.jpg")).json()
    second = upload(client, account, photos.photo("flower2.jpg"), "copy.jpg").json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    user_files = server.settings.data_dir / "files" / "users" / account.user["id"]
    assert len([p for p in user_files.rglob("*") if p.is_file()]) == 3  # archive, thumb, square: once


def test_thumbnail_names_cannot_traverse(client: httpx.Client, account: Account) -> None:
    for name in ("..%2F..%2Fsecret.key", "thumbnail_..%2F..%2Fartboard.db", "thumbnail_aaaaaaaaaaaaaaa.jpg"):
        assert_envelope(client.get(f"/api/thumbnails/{name}", headers=account.headers), 404, "not_found")


def test_urls_use_the_configured_public_address(tmp_path: Path) -> None:
    with live_server(tmp_path, public_url="https://art.example.com/") as server, httpx.Client(base_url=server.url) as c:
        account = register_and_login(c)
        image = upload(c, account, photos.flower()).json()
        assert image["thumbnail_url"] == f"https://art.example.com/api/thumbnails/thumbnail_{image['id']}.jpg"
        assert image["original_url"].startswith("https://art.example.com/api/images/")
        grant = c.post(
            "/api/upload/presigned-url",
            headers=account.headers,
            json={"filename": "a.jpg", "content_type": "image/jpeg", "size": 10},
        ).json()
        assert grant["upload_url"] == "https://art.example.com/api/storage/upload"

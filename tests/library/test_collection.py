"""Seed 002's collection: items with images on disk, base64 image reads, deletes that remove the files."""

from __future__ import annotations

import base64
import json

import httpx

from tests import photos
from tests.support import Account, LiveServer, assert_envelope


def test_add_as_multipart_with_metadata(client: httpx.Client, account: Account) -> None:
    response = client.post(
        "/collection/items",
        files={"image": ("card.jpg", photos.flower(), "image/jpeg")},
        data={"title": "Rare card", "metadata": json.dumps({"set": "alpha", "rarity": 5})},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["title"] == "Rare card" and item["metadata"] == {"set": "alpha", "rarity": 5}
    image = client.get(f"/collection/items/{item['id']}/image", headers=account.headers).json()
    assert image["content_type"] == "image/jpeg" and base64.b64decode(image["image"]) == photos.flower()


def test_add_as_json_with_base64(client: httpx.Client, account: Account) -> None:
    encoded = base64.b64encode(photos.photo("hopper.png")).decode()
    for payload in (encoded, f"data:image/png;base64,{encoded}"):
        response = client.post(
            "/collection/items", json={"title": "Hopper", "image_base64": payload}, headers=account.headers
        )
        assert response.status_code == 201 and response.json()["content_type"] == "image/png"


def test_bad_items_are_refused(client: httpx.Client, account: Account) -> None:
    cases = [
        ({"title": "x", "image_base64": "not base64!!"}, 400),
        ({"title": "x", "image_base64": base64.b64encode(b"plain text").decode()}, 400),
        ({"image_base64": base64.b64encode(photos.flower()).decode()}, 422),
        ({"title": "x"}, 422),
    ]
    for body, status in cases:
        assert_envelope(
            client.post("/collection/items", json=body, headers=account.headers), status, "validation_error"
        )
    no_image = client.post(
        "/collection/items", data={"title": "x"}, files={"file": ("a.jpg", photos.flower())}, headers=account.headers
    )
    assert_envelope(no_image, 400, "validation_error")
    bad_metadata = client.post(
        "/collection/items",
        data={"title": "x", "metadata": "[1]"},
        files={"image": ("a.jpg", photos.flower())},
        headers=account.headers,
    )
    assert_envelope(bad_metadata, 400, "validation_error")


def test_list_holds_only_collection_items_paginated(client: httpx.Client, account: Account) -> None:
    client.post("/api/images", files={"file": ("f.jpg", photos.flower(), "image/jpeg")}, headers=account.headers)
    for name in ("hopper.jpg", "flower2.jpg", "hopper.png"):
        client.post(
            "/collection/items",
            files={"image": (name, photos.photo(name))},
            data={"title": name},
            headers=account.headers,
        ).raise_for_status()
    page = client.get("/collection/items", params={"per_page": 2}, headers=account.headers).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert {"id", "title", "metadata", "thumbnail_url", "image_url", "created"} <= set(page["items"][0])


def test_delete_removes_the_item_and_its_files(server: LiveServer, client: httpx.Client, account: Account) -> None:
    item = client.post(
        "/collection/items",
        files={"image": ("a.jpg", photos.photo("flower2.jpg"))},
        data={"title": "gone soon"},
        headers=account.headers,
    ).json()
    user_files = server.settings.data_dir / "files" / "users" / account.user["id"]
    assert any(p.is_file() for p in user_files.rglob("*"))
    assert client.delete(f"/collection/items/{item['id']}", headers=account.headers).status_code == 204
    assert not any(p.is_file() for p in user_files.rglob("*"))
    assert_envelope(client.get(f"/collection/items/{item['id']}/image", headers=account.headers), 404, "not_found")
    assert_envelope(client.delete(f"/collection/items/{item['id']}", headers=account.headers), 404, "not_found")


def test_a_gallery_image_is_not_a_collection_item(client: httpx.Client, account: Account) -> None:
    image = client.post(
        "/api/images", files={"file": ("f.jpg", photos.flower(), "image/jpeg")}, headers=account.headers
    ).json()
    assert_envelope(client.get(f"/collection/items/{image['id']}/image", headers=account.headers), 404, "not_found")
    assert_envelope(client.delete(f"/collection/items/{image['id']}", headers=account.headers), 404, "not_found")

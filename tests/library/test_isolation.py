"""No user reads or changes another's images, folders, items, uploads or thumbnails: they answer 404."""

from __future__ import annotations

import base64

import httpx

from tests import photos
from tests.library.test_images import folder
from tests.media.test_validation import upload
from tests.support import Account, assert_envelope, register_and_login


def test_another_users_things_are_not_found(client: httpx.Client, account: Account) -> None:
    owner, intruder = account, register_and_login(client, "intruder")
    image = upload(client, owner, photos.flower()).json()
    folder_id = folder(client, owner, "Private")
    item = client.post(
        "/collection/items",
        json={"title": "mine", "image_base64": base64.b64encode(photos.photo("hopper.jpg")).decode()},
        headers=owner.headers,
    ).json()
    grant = client.post(
        "/api/upload/presigned-url",
        json={"filename": "a.png", "content_type": "image/png", "size": 100},
        headers=owner.headers,
    ).json()
    h = intruder.headers
    attempts = [
        client.get(f"/api/images/{image['id']}", headers=h),
        client.get(f"/api/images/{image['id']}/file", headers=h),
        client.patch(f"/api/images/{image['id']}", json={"title": "x"}, headers=h),
        client.delete(f"/api/images/{image['id']}", headers=h),
        client.get(f"/api/thumbnails/thumbnail_{image['id']}.jpg", headers=h),
        client.get(f"/api/folders/{folder_id}", headers=h),
        client.patch(f"/api/folders/{folder_id}", json={"name": "x"}, headers=h),
        client.delete(f"/api/folders/{folder_id}", headers=h),
        client.post("/api/custom/collections/create", json={"name": "x", "parent_id": folder_id}, headers=h),
        client.get(f"/collection/items/{item['id']}/image", headers=h),
        client.delete(f"/collection/items/{item['id']}", headers=h),
        client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=h),
        client.get(f"/api/upload/download-url/{grant['key']}", headers=h),
        client.post(f"/api/trash/{image['id']}/restore", headers=h),
    ]
    for response in attempts:
        assert_envelope(response, 404, "not_found")
    assert client.get("/api/images", headers=h).json()["total"] == 0
    assert client.get("/api/custom/collections", headers=h).json() == {"collections": []}
    assert client.get("/collection/items", headers=h).json()["total"] == 0
    assert client.get(f"/api/images/{image['id']}", headers=owner.headers).json()["title"] == image["title"]


def test_every_gallery_route_needs_sign_in(client: httpx.Client) -> None:
    for method, path in [
        ("GET", "/api/images"),
        ("POST", "/api/images"),
        ("GET", "/api/custom/collections"),
        ("GET", "/collection/items"),
        ("GET", "/api/trash"),
        ("POST", "/api/upload/presigned-url"),
        ("GET", "/api/thumbnails/thumbnail_aaaaaaaaaaaaaaa.jpg"),
        ("POST", "/api/custom/preferences/get"),
    ]:
        assert_envelope(client.request(method, path), 401, "authentication_error")

"""Seed 001 folders ("collections"): nested, never cyclic, trashed with their contents and restorable."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests import photos
from tests.library.test_images import folder
from tests.support import Account, assert_envelope


def test_create_and_list_in_seed_001_shapes(client: httpx.Client, account: Account) -> None:
    created = client.post("/api/custom/collections/create", json={"name": "My Collection"}, headers=account.headers)
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"id", "name", "parent_id", "created"} and body["parent_id"] == ""
    child = client.post(
        "/api/custom/collections/create", json={"name": "Child", "parent_id": body["id"]}, headers=account.headers
    ).json()
    assert child["parent_id"] == body["id"]
    listed = client.get("/api/custom/collections", headers=account.headers).json()["collections"]
    assert [c["name"] for c in listed] == ["My Collection", "Child"]
    assert set(listed[0]) == {"id", "user_id", "name", "parent_id", "private", "created", "updated"}
    assert listed[0]["user_id"] == account.user["id"] and listed[0]["private"] is False


def test_artboard_folders_are_paginated_like_images_with_null_top_level_parents(
    client: httpx.Client, account: Account
) -> None:
    top = folder(client, account, "top")
    folder(client, account, "child", top)
    folder(client, account, "third")
    first = client.get("/api/folders", params={"per_page": 2}, headers=account.headers).json()
    assert {k: first[k] for k in ("page", "per_page", "total", "total_pages")} == {
        "page": 1,
        "per_page": 2,
        "total": 3,
        "total_pages": 2,
    }
    assert [f["name"] for f in first["items"]] == ["top", "child"]
    assert first["items"][0]["parent_id"] is None and first["items"][1]["parent_id"] == top
    second = client.get("/api/folders", params={"per_page": 2, "page": 2}, headers=account.headers).json()
    assert [f["name"] for f in second["items"]] == ["third"]
    # Seed 001's own listing keeps its documented "" for a top-level folder.
    seed = client.get("/api/custom/collections", headers=account.headers).json()["collections"]
    assert seed[0]["parent_id"] == ""


def test_images_can_be_listed_all_by_folder_or_unfiled(client: httpx.Client, account: Account) -> None:
    box = folder(client, account, "box")
    filed = client.post(
        "/api/images", files={"file": ("a.jpg", photos.flower())}, data={"folder_id": box}, headers=account.headers
    ).json()
    loose = client.post("/api/images", files={"file": ("b.jpg", photos.cmyk_jpeg())}, headers=account.headers)
    listings = {
        "all": {},
        "folder": {"folder_id": box},
        "unfiled": {"folder_id": ""},
    }
    found = {
        name: {i["id"] for i in client.get("/api/images", params=params, headers=account.headers).json()["items"]}
        for name, params in listings.items()
    }
    assert found == {
        "all": {filed["id"], loose.json()["id"]},
        "folder": {filed["id"]},
        "unfiled": {loose.json()["id"]},
    }


def test_names_and_parents_are_validated(client: httpx.Client, account: Account) -> None:
    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 201}, {}, {"name": "a", "parent_id": "../x"}):
        response = client.post("/api/custom/collections/create", json=body, headers=account.headers)
        assert_envelope(response, 422, "validation_error")
    unknown = client.post(
        "/api/custom/collections/create", json={"name": "a", "parent_id": "b" * 15}, headers=account.headers
    )
    assert_envelope(unknown, 404, "not_found")


def test_a_move_that_would_make_a_cycle_is_refused(client: httpx.Client, account: Account) -> None:
    top = folder(client, account, "top")
    middle = folder(client, account, "middle", top)
    bottom = folder(client, account, "bottom", middle)
    for parent in (bottom, middle, top):
        response = client.patch(f"/api/folders/{top}", json={"parent_id": parent}, headers=account.headers)
        assert_envelope(response, 409, "conflict")
    moved = client.patch(
        f"/api/folders/{bottom}", json={"parent_id": top, "name": "renamed", "private": True}, headers=account.headers
    )
    assert moved.status_code == 200
    assert moved.json() | {"updated": None} == client.get(f"/api/folders/{bottom}", headers=account.headers).json() | {
        "updated": None
    }
    assert moved.json()["parent_id"] == top and moved.json()["private"] is True


def test_two_moves_at_the_same_moment_never_make_a_cycle(client: httpx.Client, account: Account) -> None:
    barrier = threading.Barrier(2)  # lets both moves go at once, round after round

    def move(pair: tuple[str, str]) -> int:
        moved, parent = pair
        barrier.wait()
        return client.patch(f"/api/folders/{moved}", json={"parent_id": parent}, headers=account.headers).status_code

    for _ in range(5):
        one, two = folder(client, account, "one"), folder(client, account, "two")
        with ThreadPoolExecutor(2) as pool:
            assert sorted(pool.map(move, [(one, two), (two, one)])) == [200, 409]
        parents = [client.get(f"/api/folders/{f}", headers=account.headers).json()["parent_id"] for f in (one, two)]
        assert None in parents  # one of them is still at the top


def test_deleting_a_folder_trashes_its_subtree_and_restore_brings_it_back(
    client: httpx.Client, account: Account
) -> None:
    top = folder(client, account, "top")
    sub = folder(client, account, "sub", top)
    image = client.post(
        "/api/images",
        files={"file": ("f.jpg", photos.flower(), "image/jpeg")},
        data={"folder_id": sub},
        headers=account.headers,
    ).json()
    assert client.delete(f"/api/folders/{top}", headers=account.headers).status_code == 204
    assert client.get("/api/custom/collections", headers=account.headers).json()["collections"] == []
    assert client.get("/api/images", headers=account.headers).json()["total"] == 0
    trash = {item["id"]: item for item in client.get("/api/trash", headers=account.headers).json()["items"]}
    assert {top, sub, image["id"]} <= set(trash)
    restored = client.post(f"/api/trash/{top}/restore", headers=account.headers)
    assert restored.json() == {"id": top, "type": "folder", "status": "restored"}
    assert {c["id"] for c in client.get("/api/folders", headers=account.headers).json()["items"]} == {top, sub}
    assert client.get(f"/api/images/{image['id']}", headers=account.headers).json()["folder_id"] == sub
    assert client.get("/api/trash", headers=account.headers).json()["items"] == []


def test_folders_nest_at_most_32_levels(client: httpx.Client, account: Account) -> None:
    parent = None
    chain = []
    for level in range(32):
        parent = folder(client, account, f"level {level}", parent)
        chain.append(parent)
    too_deep = client.post(
        "/api/custom/collections/create", json={"name": "33", "parent_id": parent}, headers=account.headers
    )
    assert_envelope(too_deep, 400, "validation_error")
    other = folder(client, account, "other")
    child = folder(client, account, "child", other)
    moved = client.patch(f"/api/folders/{other}", json={"parent_id": chain[30]}, headers=account.headers)
    assert_envelope(moved, 400, "validation_error")  # other + child would reach level 33
    assert client.patch(f"/api/folders/{child}", json={"parent_id": chain[30]}, headers=account.headers).is_success
    assert client.delete(f"/api/folders/{chain[0]}", headers=account.headers).status_code == 204
    trashed = {item["id"] for item in client.get("/api/trash", headers=account.headers).json()["items"]}
    assert set(chain) | {child} <= trashed and other not in trashed

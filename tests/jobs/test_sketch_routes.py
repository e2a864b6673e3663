"""Seed 004's sketch routes over HTTP: a photo (uploaded, or a confirmed direct upload) becomes a sketch job whose
drawing joins the gallery with its lineage; sketches are listed, read, followed by task and deleted; styles are
described with previews; other users find nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import photos
from tests.jobs.held_engine import FINISHED, HeldEngine, eventually, poll, upload
from tests.support import Account, LiveServer, assert_envelope, register_and_login, stored_files

STYLES = ["PENCIL", "CHARCOAL", "WATERCOLOR", "INK", "PASTEL", "OIL", "ACRYLIC"]


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldEngine]:
    engine = HeldEngine()
    engine.install(monkeypatch)
    yield engine
    engine.release.set()


def create(
    client: httpx.Client, account: Account, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return client.post("/api/sketch/create", json=body, headers={**account.headers, **(headers or {})})


def task(client: httpx.Client, account: Account, task_id: str, *statuses: str) -> dict[str, Any]:
    """The sketch's task once it is in one of ``statuses`` (finished, by default)."""
    wanted = statuses or FINISHED
    response = poll(
        lambda: client.get(f"/api/sketch/task/{task_id}", headers=account.headers),
        lambda reply: reply.json()["status"] in wanted,
    )
    body: dict[str, Any] = response.json()
    assert body["status"] in wanted, body
    return body


def test_a_photo_becomes_a_sketch_that_joins_the_gallery_with_its_lineage_until_deleted(
    server: LiveServer, client: httpx.Client, account: Account
) -> None:
    source = upload(client, account)
    files_before = stored_files(server, account.user["id"])
    created = create(client, account, image_id=source["id"], style="charcoal", method="Advanced")
    assert created.status_code == 202, created.text
    reply = created.json()
    assert set(reply) == {"sketch_id", "task_id", "status"}
    assert reply["sketch_id"] == reply["task_id"] and reply["status"] == "queued"
    sketch_id = reply["sketch_id"]

    # Readable at once, as a seed 004 client reads it right after creating it.
    first = client.get(f"/api/sketch/{sketch_id}", headers=account.headers).json()
    assert (first["id"], first["task_id"], first["style"], first["method"]) == (
        sketch_id,
        sketch_id,
        "CHARCOAL",
        "advanced",
    )
    assert first["source_image_id"] == source["id"] and first["strength"] == 1.0

    done = task(client, account, sketch_id)
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["error"] is None
    output = done["result"]
    assert (output["width"], output["height"]) == (480, 360) and output["content_type"] == "image/jpeg"

    sketch = client.get(f"/api/sketch/{sketch_id}", headers=account.headers).json()
    assert sketch["status"] == "succeeded" and sketch["output"]["id"] == output["id"] and sketch["finished"]
    assert client.get(f"/api/jobs/{sketch_id}", headers=account.headers).json()["result"]["images"] == [output["id"]]
    gallery = client.get("/api/images", headers=account.headers).json()["items"]
    (made,) = [image for image in gallery if image["id"] == output["id"]]
    assert made["source"] == "job"
    assert made["lineage"] == {
        "job_id": sketch_id,
        "source_image_id": source["id"],
        "engine": "sketch",
        "model": "sketch:charcoal",
        "parameters": {"method": "advanced", "strength": 1.0},
        "cost": 0.0,
    }
    drawing = client.get(output["original_url"], headers=account.headers)
    assert drawing.headers["content-type"] == "image/jpeg" and photos.decode(drawing.content).size == (480, 360)

    deleted = client.delete(f"/api/sketch/{sketch_id}", headers=account.headers)
    assert deleted.status_code == 204, deleted.text
    for path in (f"/api/sketch/{sketch_id}", f"/api/sketch/task/{sketch_id}", f"/api/jobs/{sketch_id}"):
        assert_envelope(client.get(path, headers=account.headers), 404, "not_found")
    assert_envelope(client.get(f"/api/images/{output['id']}", headers=account.headers), 404, "not_found")
    assert client.get(f"/api/images/{source['id']}", headers=account.headers).status_code == 200
    assert client.get("/api/sketch/", headers=account.headers).json()["total"] == 0
    # The drawing's files go once the delete has committed; the source's stay.
    assert eventually(lambda: stored_files(server, account.user["id"]) == files_before)


def test_a_confirmed_direct_upload_is_named_by_its_key(client: httpx.Client, account: Account) -> None:
    grant = client.post(
        "/api/upload/presigned-url",
        json={"filename": "cat.jpg", "content_type": "image/jpeg", "size": len(photos.flower())},
        headers=account.headers,
    ).json()
    put = httpx.post(
        grant["upload_url"], data=grant["fields"], files={"file": ("cat.jpg", photos.flower(), "image/jpeg")}
    )
    assert put.status_code in (200, 201, 204), put.text
    # Not confirmed yet: not a source.
    assert_envelope(create(client, account, key=grant["key"], style="ink"), 404, "not_found")
    confirmed = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers).json()

    created = create(client, account, key=grant["key"], style="ink", method="artistic")
    assert created.status_code == 202, created.text
    sketch_id = created.json()["sketch_id"]
    assert task(client, account, sketch_id)["status"] == "succeeded"
    assert client.get(f"/api/sketch/{sketch_id}", headers=account.headers).json()["source_image_id"] == confirmed["id"]

    stranger = register_and_login(client)
    assert_envelope(create(client, stranger, key=grant["key"], style="ink"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"style": "crayon"}, "style"),
        ({"style": "pencil", "method": "fancy"}, "method"),
        ({"method": "basic"}, "style"),
        ({"style": "pencil", "key": "incoming/x/y/z.jpg"}, "key"),  # and image_id: one source only
        ({"style": "pencil", "image_id": None}, "key"),  # neither
        ({"style": "pencil", "image_id": "not-an-id"}, "image_id"),
        ({"style": 7}, "style"),
    ],
)
def test_a_refused_field_is_named(client: httpx.Client, account: Account, body: dict[str, Any], field: str) -> None:
    source = upload(client, account)
    response = create(client, account, **{"image_id": source["id"], **body})
    error = assert_envelope(response, 422, "validation_error")
    assert error["detail"][0]["field"] == field, error


def test_style_and_method_are_read_in_any_case_and_answered_as_listed(client: httpx.Client, account: Account) -> None:
    source = upload(client, account)
    sketch_id = create(client, account, image_id=source["id"], style="Oil", method="ARTISTIC").json()["sketch_id"]
    sketch = client.get(f"/api/sketch/{sketch_id}", headers=account.headers).json()
    assert (sketch["style"], sketch["method"]) == ("OIL", "artistic")


def test_sketches_are_listed_newest_first_a_page_at_a_time(client: httpx.Client, account: Account) -> None:
    source = upload(client, account)
    ids = [create(client, account, image_id=source["id"], style=style).json()["sketch_id"] for style in STYLES[:3]]
    for sketch_id in ids:
        task(client, account, sketch_id)
    # A sketch job queued through /api/jobs is a sketch too.
    client.post("/api/jobs", json={"model": "sketch:ink", "image_id": source["id"]}, headers=account.headers)

    for path in ("/api/sketch/", "/api/sketch"):
        first = client.get(path, params={"per_page": 2}, headers=account.headers)
        assert first.status_code == 200, first.text
        page = first.json()
        assert (page["total"], page["total_pages"], page["page"]) == (4, 2, 1)
    listed = client.get("/api/sketch/", params={"status": "succeeded"}, headers=account.headers).json()
    assert [sketch["id"] for sketch in listed["items"]][-3:] == ids[::-1]
    assert all(sketch["output"]["width"] == 480 for sketch in listed["items"])


def test_prefer_wait_answers_with_the_finished_sketch_and_idempotency_keys_replay(
    client: httpx.Client, account: Account
) -> None:
    source = upload(client, account)
    key = {"Idempotency-Key": "sketch-once"}
    waited = create(client, account, {**key, "Prefer": "wait=30"}, image_id=source["id"], style="pastel")
    assert waited.status_code == 200, waited.text
    assert waited.json()["status"] == "succeeded" and waited.headers["preference-applied"] == "wait=30"
    again = create(client, account, key, image_id=source["id"], style="pastel")
    assert again.json()["sketch_id"] == waited.json()["sketch_id"]
    assert_envelope(create(client, account, key, image_id=source["id"], style="oil"), 409, "conflict")


def test_deleting_a_running_or_queued_sketch_cancels_it(
    client: httpx.Client, account: Account, held: HeldEngine
) -> None:
    source = upload(client, account)
    running, other, queued = (
        create(client, account, image_id=source["id"], style="pencil").json()["sketch_id"] for _ in range(3)
    )
    task(client, account, running, "running")
    task(client, account, other, "running")
    assert task(client, account, queued, "queued")["queue_position"] >= 1  # two running is this user's cap
    for sketch_id in (running, queued):
        assert client.delete(f"/api/sketch/{sketch_id}", headers=account.headers).status_code == 204
        assert_envelope(client.get(f"/api/sketch/{sketch_id}", headers=account.headers), 404, "not_found")
    # The running one stops at its next checkpoint, so the one it held back finishes once released.
    held.release.set()
    assert task(client, account, other)["status"] == "succeeded"
    assert [sketch["id"] for sketch in client.get("/api/sketch/", headers=account.headers).json()["items"]] == [other]


def test_another_users_sketch_is_not_found_anywhere(client: httpx.Client, account: Account) -> None:
    source = upload(client, account)
    sketch_id = create(client, account, image_id=source["id"], style="ink").json()["sketch_id"]
    task(client, account, sketch_id)
    stranger = register_and_login(client)
    for method, path in (
        ("GET", f"/api/sketch/{sketch_id}"),
        ("GET", f"/api/sketch/task/{sketch_id}"),
        ("DELETE", f"/api/sketch/{sketch_id}"),
    ):
        assert_envelope(client.request(method, path, headers=stranger.headers), 404, "not_found")
    assert client.get("/api/sketch/", headers=stranger.headers).json()["total"] == 0
    assert_envelope(create(client, stranger, image_id=source["id"], style="ink"), 404, "not_found")
    assert client.get(f"/api/sketch/{sketch_id}", headers=account.headers).status_code == 200


def test_the_styles_are_described_with_previews_without_signing_in(client: httpx.Client) -> None:
    response = client.get("/api/sketch/styles/available")
    assert response.status_code == 200, response.text
    body = response.json()
    assert [style["name"] for style in body["styles"]] == STYLES
    assert [method["name"] for method in body["methods"]] == ["basic", "advanced", "artistic"]
    for entry in body["styles"] + body["methods"]:
        assert entry["display_name"] and entry["description"]
    pencil = body["styles"][0]
    assert pencil["model"] == "sketch:pencil"

    sheet = httpx.get(body["preview_url"])
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/jpeg"
    row = httpx.get(pencil["preview_url"])
    assert row.status_code == 200 and row.headers["content-type"] == "image/jpeg"
    # The sheet is the photo over a row per style (seven); a style's preview is the photo over its own row.
    sheet_image, row_image = photos.decode(sheet.content), photos.decode(row.content)
    assert sheet_image.width == row_image.width and sheet_image.height > 3 * row_image.height
    assert_envelope(client.get("/api/sketch/styles/crayon/preview.jpg"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/sketch/create"),
        ("GET", "/api/sketch/"),
        ("GET", "/api/sketch/aaaaaaaaaaaaaaa"),
        ("GET", "/api/sketch/task/aaaaaaaaaaaaaaa"),
        ("DELETE", "/api/sketch/aaaaaaaaaaaaaaa"),
    ],
)
def test_the_sketch_routes_need_a_sign_in(client: httpx.Client, method: str, path: str) -> None:
    assert_envelope(client.request(method, path, json={"style": "ink"}), 401, "authentication_error")

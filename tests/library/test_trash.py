"""Trash: restore within the retention; after it, maintenance deletes rows and files for good."""

from __future__ import annotations

import time

import httpx
import pytest

from tests import photos
from tests.auth.test_admin import make_admin
from tests.library.test_images import folder
from tests.media.test_validation import upload
from tests.support import (
    Account,
    LiveServer,
    assert_envelope,
    live_server,
    register_and_login,
    run_sql,
    stored_files,
)


def age_trash(server: LiveServer, days: int) -> None:
    for table in ("images", "folders"):
        rows = run_sql(server, f"SELECT id, deleted_at FROM {table} WHERE deleted_at IS NOT NULL")  # noqa: S608
        for row_id, _ in rows:
            run_sql(
                server,
                f"UPDATE {table} SET deleted_at = :when WHERE id = :id",  # noqa: S608
                when=_days_ago(days),
                id=row_id,
            )


def _days_ago(days: int) -> object:
    from datetime import UTC, datetime, timedelta

    moment = datetime.now(UTC) - timedelta(days=days)
    return moment.replace(tzinfo=None)


def test_restore_an_image_from_the_trash(client: httpx.Client, account: Account) -> None:
    image = upload(client, account, photos.flower()).json()
    client.delete(f"/api/images/{image['id']}", headers=account.headers)
    item = client.get("/api/trash", headers=account.headers).json()["items"][0]
    assert item["id"] == image["id"] and item["purge_after"] > item["deleted_at"]
    assert client.post(f"/api/trash/{image['id']}/restore", headers=account.headers).json()["type"] == "image"
    assert client.get(f"/api/images/{image['id']}", headers=account.headers).status_code == 200
    assert_envelope(client.post(f"/api/trash/{image['id']}/restore", headers=account.headers), 404, "not_found")


def test_an_image_restored_from_a_trashed_folder_returns_to_the_top(client: httpx.Client, account: Account) -> None:
    folder_id = folder(client, account, "doomed")
    image = client.post(
        "/api/images",
        files={"file": ("f.jpg", photos.flower(), "image/jpeg")},
        data={"folder_id": folder_id},
        headers=account.headers,
    ).json()
    client.delete(f"/api/folders/{folder_id}", headers=account.headers)
    client.post(f"/api/trash/{image['id']}/restore", headers=account.headers).raise_for_status()
    assert client.get(f"/api/images/{image['id']}", headers=account.headers).json()["folder_id"] is None


def test_maintenance_purges_only_expired_trash_with_its_files(server: LiveServer, client: httpx.Client) -> None:
    admin = make_admin(server, client)
    owner = admin  # the admin's own gallery keeps the test self-contained
    kept = upload(client, owner, photos.photo("hopper.jpg")).json()
    doomed = upload(client, owner, photos.photo("flower2.jpg")).json()
    doomed_folder = folder(client, owner, "old")
    client.delete(f"/api/images/{doomed['id']}", headers=owner.headers)
    client.delete(f"/api/folders/{doomed_folder}", headers=owner.headers)
    files_before = stored_files(server, owner.user["id"])

    fresh = client.post("/api/admin/maintenance", headers=owner.headers).json()
    assert fresh["images"] == 0 and len(stored_files(server, owner.user["id"])) == len(files_before)

    age_trash(server, days=31)
    report = client.post("/api/admin/maintenance", headers=owner.headers).json()
    assert report["images"] >= 1 and report["folders"] >= 1 and report["blobs"] >= 1
    assert len(stored_files(server, owner.user["id"])) == len(files_before) - 3
    assert client.get("/api/trash", headers=owner.headers).json()["items"] == []
    assert client.get(f"/api/images/{kept['id']}/file", headers=owner.headers).status_code == 200


def test_maintenance_is_for_admins(client: httpx.Client, account: Account) -> None:
    assert_envelope(client.post("/api/admin/maintenance", headers=account.headers), 403, "authorization_error")


def test_the_server_purges_expired_trash_on_its_own(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The periodic maintenance task runs inside `artboard serve` (every ARTBOARD_MAINTENANCE_INTERVAL_S)."""
    periodic = live_server(tmp_path_factory.mktemp("periodic"), maintenance_interval_s=1)
    with periodic as server, httpx.Client(base_url=server.url) as client:
        account = register_and_login(client)
        image = upload(client, account, photos.flower()).json()
        client.delete(f"/api/images/{image['id']}", headers=account.headers)
        age_trash(server, days=31)
        deadline = time.monotonic() + 15
        while stored_files(server, account.user["id"]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stored_files(server, account.user["id"]) == []
        assert client.get("/api/trash", headers=account.headers).json()["items"] == []

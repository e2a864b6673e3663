"""Storage and database stay consistent when a step fails midway, and quotas refuse without half-writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from artboard.media.storage import LocalStorage
from tests import photos
from tests.auth.test_admin import make_admin
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


def fail_commits_that_add_images(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """From now on, while ``switch["fail"]`` holds, a transaction that added an image fails to commit."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from artboard.library.service import Library

    switch = {"fail": True}
    real_add, real_commit = Library.add_image, AsyncSession.commit

    async def add_image(self: Library, db: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        db.info["adds_image"] = True
        return await real_add(self, db, *args, **kwargs)

    async def commit(self: AsyncSession) -> None:
        if switch["fail"] and self.info.get("adds_image"):
            raise ConnectionError("database went away")
        await real_commit(self)

    monkeypatch.setattr(Library, "add_image", add_image)
    monkeypatch.setattr(AsyncSession, "commit", commit)
    return switch


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path) as server:
        yield server


def test_a_storage_failure_midway_leaves_no_file_and_no_row(
    sqlite_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put = LocalStorage.put
    calls: list[str] = []

    async def failing_put(storage: LocalStorage, key: str, data: bytes, content_type: str) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise OSError("disk full")
        await real_put(storage, key, data, content_type)

    monkeypatch.setattr(LocalStorage, "put", failing_put)
    with httpx.Client(base_url=sqlite_server.url) as client:
        account = register_and_login(client)
        body = assert_envelope(upload(client, account, photos.flower()), 502, "external_error")
        assert "nothing was saved" in body["message"]
        assert stored_files(sqlite_server, account.user["id"]) == []
        assert run_sql(sqlite_server, "SELECT count(*) FROM blobs")[0][0] == 0
        assert run_sql(sqlite_server, "SELECT count(*) FROM images")[0][0] == 0
        monkeypatch.setattr(LocalStorage, "put", real_put)
        assert upload(client, account, photos.flower()).status_code == 201


def test_a_crash_after_the_files_before_the_commit_is_cleaned_up(
    sqlite_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated by failing the request's commit: files and a pending row remain, as after a crash."""
    with httpx.Client(base_url=sqlite_server.url) as client:
        admin = make_admin(sqlite_server, client)
        switch = fail_commits_that_add_images(monkeypatch)
        assert upload(client, admin, photos.flower()).status_code == 500
        switch["fail"] = False
        assert len(stored_files(sqlite_server, admin.user["id"])) == 3
        assert run_sql(sqlite_server, "SELECT state FROM blobs") == [("pending",)]

        client.post("/api/admin/maintenance", headers=admin.headers).raise_for_status()
        assert len(stored_files(sqlite_server, admin.user["id"])) == 3  # still within the grace period
        run_sql(sqlite_server, "UPDATE blobs SET created = '2000-01-01 00:00:00'")
        report = client.post("/api/admin/maintenance", headers=admin.headers).json()
        assert report["unfinished_blobs"] == 1
        assert stored_files(sqlite_server, admin.user["id"]) == []
        assert run_sql(sqlite_server, "SELECT count(*) FROM blobs")[0][0] == 0
        assert upload(client, admin, photos.flower()).status_code == 201


def test_a_failed_confirm_keeps_the_uploaded_original(
    sqlite_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with httpx.Client(base_url=sqlite_server.url) as client:
        account = register_and_login(client)
        grant: dict[str, Any] = client.post(
            "/api/upload/presigned-url",
            headers=account.headers,
            json={"filename": "a.jpg", "content_type": "image/jpeg", "size": len(photos.flower())},
        ).json()
        httpx.post(grant["upload_url"], data=grant["fields"], files={"file": ("a.jpg", photos.flower())})
        switch = fail_commits_that_add_images(monkeypatch)
        failed = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers)
        assert failed.status_code == 500
        switch["fail"] = False
        assert (sqlite_server.settings.data_dir / "files" / grant["key"]).exists()
        confirmed = client.post("/api/upload/confirm", json={"key": grant["key"]}, headers=account.headers)
        assert confirmed.status_code == 200
        assert not (sqlite_server.settings.data_dir / "files" / grant["key"]).exists()


def test_an_upload_over_quota_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with live_server(tmp_path, storage_quota_bytes=80_000) as server, httpx.Client(base_url=server.url) as client:
        account = register_and_login(client)
        assert upload(client, account, photos.flower()).status_code == 201
        files = stored_files(server, account.user["id"])
        body = assert_envelope(upload(client, account, photos.photo("frozenpond.mpo")), 413, "payload_too_large")
        assert "quota" in body["message"]
        assert stored_files(server, account.user["id"]) == files
        assert client.get("/api/images", headers=account.headers).json()["total"] == 1
        assert run_sql(server, "SELECT count(*) FROM blobs")[0][0] == 1
        assert upload(client, account, photos.flower()).status_code == 201  # a duplicate costs nothing


def test_many_concurrent_uploads_all_succeed(client: httpx.Client, account: Account) -> None:
    """Blob bookkeeping never waits on the request's own connection pool (it once deadlocked at ~16)."""
    from concurrent.futures import ThreadPoolExecutor

    names = ["flower.jpg", "flower2.jpg", "hopper.jpg", "hopper.png", "hopper.gif", "hopper.webp"]

    def one(index: int) -> int:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as own:
            name = names[index % len(names)]
            return own.post(
                "/api/images", files={"file": (name, photos.photo(name))}, headers=account.headers
            ).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(one, range(40)))
    assert statuses == [201] * 40
    assert client.get("/api/images", headers=account.headers).json()["total"] == 40


def test_a_blob_marked_for_deletion_but_still_used_is_revived(
    server: LiveServer, client: httpx.Client, account: Account
) -> None:
    """The race of deleting the last copy while the same bytes are uploaded again ends with files intact."""
    admin = make_admin(server, client)
    first = client.post(
        "/collection/items",
        files={"image": ("a.jpg", photos.photo("flower2.jpg"))},
        data={"title": "a"},
        headers=admin.headers,
    ).json()
    run_sql(server, "UPDATE blobs SET state = 'deleting'")  # as if a concurrent delete had released it
    assert client.post("/api/admin/maintenance", headers=admin.headers).json()["unfinished_blobs"] >= 1
    assert [row[0] for row in run_sql(server, "SELECT DISTINCT state FROM blobs")] == ["ready"]
    image = client.get(f"/collection/items/{first['id']}/image", headers=admin.headers)
    assert image.status_code == 200 and image.json()["image"]


def test_a_failing_cleanup_after_commit_does_not_fail_the_request(
    sqlite_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_delete(storage: LocalStorage, key: str) -> None:
        raise OSError("storage went away")

    with httpx.Client(base_url=sqlite_server.url) as client:
        account = register_and_login(client)
        item = client.post(
            "/collection/items",
            files={"image": ("a.jpg", photos.flower())},
            data={"title": "x"},
            headers=account.headers,
        ).json()
        monkeypatch.setattr(LocalStorage, "delete", broken_delete)
        assert client.delete(f"/collection/items/{item['id']}", headers=account.headers).status_code == 204
        assert run_sql(sqlite_server, "SELECT state FROM blobs") == [("deleting",)]  # the sweep finishes it
        monkeypatch.undo()
        assert client.get("/collection/items", headers=account.headers).json()["total"] == 0

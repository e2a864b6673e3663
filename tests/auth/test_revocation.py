"""Old tokens stop working after a password change and after an admin disables the user."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.support import (
    PASSWORD,
    REDIS_URL,
    Account,
    LiveServer,
    assert_envelope,
    live_server,
    register_and_login,
)


def test_password_change_revokes_every_earlier_token(client: httpx.Client, account: Account) -> None:
    second_device = client.post("/auth/login", json={"email": account.email, "password": PASSWORD}).json()
    response = client.post(
        "/api/auth/password", json={"old_password": PASSWORD, "new_password": "a new secret!"}, headers=account.headers
    )
    assert response.status_code == 200
    fresh = response.json()
    for old in (account.access_token, second_device["access_token"]):
        assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    for old in (account.refresh_token, second_device["refresh_token"]):
        assert client.post("/auth/refresh", json={"refresh_token": old}).status_code == 401
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}).is_success
    assert client.post("/auth/login", json={"email": account.email, "password": PASSWORD}).status_code == 401
    assert client.post("/auth/login", json={"email": account.email, "password": "a new secret!"}).is_success


def test_password_change_needs_the_current_password(client: httpx.Client, account: Account) -> None:
    wrong = client.post(
        "/api/auth/password", json={"old_password": "not it!!", "new_password": "another one"}, headers=account.headers
    )
    assert_envelope(wrong, 401, "authentication_error")
    short = client.post(
        "/api/auth/password", json={"old_password": PASSWORD, "new_password": "short"}, headers=account.headers
    )
    assert_envelope(short, 422, "validation_error")
    assert client.get("/api/auth/me", headers=account.headers).is_success


def test_forged_and_tampered_tokens_are_refused(client: httpx.Client, account: Account) -> None:
    import jwt

    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    guess = "a-guessed-secret-that-is-long-enough-for-hs256"
    forged = jwt.encode(claims, guess, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    expired = jwt.encode({**claims, "exp": 1}, guess, algorithm="HS256")
    for token in (forged, unsigned, expired, "a.b.c", "-"):
        response = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert_envelope(response, 401, "authentication_error")


def test_disabled_users_tokens_stop_working(server: LiveServer, client: httpx.Client) -> None:
    admin = _admin(server, client)
    user = register_and_login(client, "tobedisabled")
    patch = client.patch(f"/api/admin/users/{user.user['id']}", json={"disabled": True}, headers=admin.headers)
    assert patch.status_code == 200 and patch.json()["disabled"] is True
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    assert client.post("/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401
    login = client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert_envelope(login, 403, "authorization_error")
    # Re-enabling lets them sign in again, but the revoked tokens stay revoked.
    client.patch(f"/api/admin/users/{user.user['id']}", json={"disabled": False}, headers=admin.headers)
    assert client.get("/api/auth/me", headers=user.headers).status_code == 401
    assert client.post("/auth/login", json={"email": user.email, "password": PASSWORD}).is_success


def _admin(server: LiveServer, client: httpx.Client) -> Account:
    from tests.auth.test_admin import make_admin

    return make_admin(server, client)


def test_a_revocation_reaches_every_instance_sharing_redis(tmp_path: Path) -> None:
    """Two servers over one database and Redis: a logout on one ends the token on the other at once,
    even though the other had just verified (and cached) it."""
    shared = {"database_url": f"sqlite:///{tmp_path / 'shared.db'}", "secret_key": "s" * 48, "redis_url": REDIS_URL}
    with ExitStack() as stack:
        first, second = (stack.enter_context(live_server(tmp_path / name, **shared)) for name in "ab")
        a, b = (stack.enter_context(httpx.Client(base_url=server.url)) for server in (first, second))
        account = register_and_login(a)
        assert b.get("/api/auth/me", headers=account.headers).status_code == 200  # now cached on b
        assert a.post("/auth/logout", json={"refresh_token": account.refresh_token}).status_code == 204
        deadline = time.monotonic() + 3
        while b.get("/api/auth/me", headers=account.headers).status_code == 200:
            assert time.monotonic() < deadline, "the other instance still accepts the revoked token"
            time.sleep(0.02)

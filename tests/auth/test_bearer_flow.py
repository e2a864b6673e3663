"""Seed 002's sign-in flow: register, access/refresh pair, rotation, logout, GPU endpoint."""

from __future__ import annotations

import httpx
import pytest

from tests.support import PASSWORD, Account, assert_envelope, unique_email


def test_register_returns_the_user_without_secrets(client: httpx.Client) -> None:
    email = unique_email()
    response = client.post(
        "/auth/register", json={"email": email, "password": PASSWORD, "gpu_endpoint": "http://gpu.example.com:7860"}
    )
    assert response.status_code == 201
    user = response.json()
    assert user["email"] == email
    assert user["gpu_endpoint"] == "http://gpu.example.com:7860/"
    assert user["role"] == "user" and user["disabled"] is False
    assert user["username"] == email.split("@")[0]
    assert not {"password", "password_hash", "token_key"} & set(user)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "x@example.com", "password": "x" * 129}, "password"),
        ({"email": "x@example.com", "password": PASSWORD, "gpu_endpoint": "ftp://gpu.local"}, "gpu_endpoint"),
        ({"email": "x@example.com", "password": PASSWORD, "gpu_endpoint": "javascript:alert(1)"}, "gpu_endpoint"),
        ({"email": "x@example.com", "password": 12345678}, "password"),
    ],
)
def test_register_names_the_bad_field(client: httpx.Client, body: dict[str, object], field: str) -> None:
    response = client.post("/auth/register", json=body)
    error = assert_envelope(response, 422, "validation_error")
    assert error["detail"][0]["field"] == field
    assert field in error["message"]


def test_email_is_unique_ignoring_case(client: httpx.Client, account: Account) -> None:
    response = client.post("/auth/register", json={"email": account.email.upper(), "password": PASSWORD})
    assert_envelope(response, 409, "conflict")


def test_login_accepts_json_and_the_oauth2_form(client: httpx.Client, account: Account) -> None:
    as_json = client.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    as_form = client.post("/auth/login", data={"username": account.email.upper(), "password": PASSWORD})
    for response in (as_json, as_form):
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        assert body["access_token"] and body["refresh_token"]


def test_wrong_password_and_unknown_user_get_the_same_answer(client: httpx.Client, account: Account) -> None:
    wrong = client.post("/auth/login", json={"email": account.email, "password": "wrong password"})
    unknown = client.post("/auth/login", json={"email": unique_email(), "password": "wrong password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (b"[1, 2]", {"content-type": "application/json"}, 400),
        (b"<xml/>", {"content-type": "application/xml"}, 400),
        (b"{}", {"content-type": "application/json"}, 422),
    ],
)
def test_login_rejects_unreadable_bodies(
    client: httpx.Client, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = client.post("/auth/login", content=content, headers=headers)
    assert_envelope(response, status, "validation_error")


def test_refresh_rotates_and_reuse_ends_the_session(client: httpx.Client, account: Account) -> None:
    first = client.post("/auth/refresh", json={"refresh_token": account.refresh_token})
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != account.refresh_token
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}).is_success

    reused = client.post("/auth/refresh", json={"refresh_token": account.refresh_token})
    assert_envelope(reused, 401, "authentication_error")
    # Reuse means the token leaked: the whole session, including the newest pair, is gone.
    assert client.post("/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code == 401
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert_envelope(me, 401, "authentication_error")


def test_refresh_rejects_unknown_tokens(client: httpx.Client) -> None:
    assert_envelope(client.post("/auth/refresh", json={"refresh_token": "nope"}), 401, "authentication_error")
    assert_envelope(client.post("/auth/refresh", json={}), 422, "validation_error")


def test_logout_revokes_the_refresh_token_and_its_access_token(client: httpx.Client, account: Account) -> None:
    response = client.post("/auth/logout", json={"refresh_token": account.refresh_token})
    assert response.status_code == 204
    assert client.post("/auth/refresh", json={"refresh_token": account.refresh_token}).status_code == 401
    assert client.get("/api/auth/me", headers=account.headers).status_code == 401


def test_gpu_endpoint_can_be_set_and_cleared(client: httpx.Client, account: Account) -> None:
    response = client.put(
        "/auth/gpu-endpoint", json={"gpu_endpoint": "https://gpu.example.com/run"}, headers=account.headers
    )
    assert response.status_code == 200
    assert response.json()["gpu_endpoint"] == "https://gpu.example.com/run"
    cleared = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": None}, headers=account.headers)
    assert cleared.json()["gpu_endpoint"] is None


def test_gpu_endpoint_needs_sign_in_and_an_http_url(client: httpx.Client, account: Account) -> None:
    unsigned = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": "https://gpu.example.com"})
    assert_envelope(unsigned, 401, "authentication_error")
    bad = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": "file:///etc/passwd"}, headers=account.headers)
    assert_envelope(bad, 422, "validation_error")

"""Seed 004's sign-in flow: HttpOnly cookies, `/api/auth/me`, logout, and CSRF protection."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support import PASSWORD, LiveServer, assert_envelope, unique_email


@dataclass
class Browser:
    """A cookie-keeping client signed in through seed 004's login, like a browser tab."""

    http: httpx.Client
    email: str


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        email = unique_email("cookie")
        body = {"email": email, "password": PASSWORD, "username": email.split("@")[0]}
        assert http.post("/api/auth/register", json=body).status_code == 201
        assert http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
        yield Browser(http, email)


def test_login_sets_httponly_cookies_and_returns_the_user(server: LiveServer, browser: Browser) -> None:
    client, email = browser.http, browser.email
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.json()["email"] == email
    cookies = response.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith("access_token="))
    refresh = next(c for c in cookies if c.startswith("refresh_token="))
    assert "HttpOnly" in access and "SameSite=lax" in access and "Path=/" in access
    assert "Secure" not in access  # off by default so http://localhost works; ARTBOARD_COOKIE_SECURE=true
    assert "HttpOnly" in refresh and "Path=/api/auth" in refresh
    me = client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["email"] == email


def test_register_rejects_a_taken_username(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        name = f"artist{unique_email()[5:15]}"
        first = client.post(
            "/api/auth/register", json={"email": unique_email(), "password": PASSWORD, "username": name}
        )
        assert first.status_code == 201 and first.json()["username"] == name
        second = client.post(
            "/api/auth/register", json={"email": unique_email(), "password": PASSWORD, "username": name.upper()}
        )
        assert_envelope(second, 409, "conflict")
        bad = client.post(
            "/api/auth/register", json={"email": unique_email(), "password": PASSWORD, "username": "no spaces allowed"}
        )
        assert_envelope(bad, 422, "validation_error")


def test_me_without_cookie_is_401(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/auth/me"), 401, "authentication_error")


def test_logout_clears_cookies_and_revokes_the_session(server: LiveServer, browser: Browser) -> None:
    client = browser.http
    stolen = client.cookies.get("access_token")
    response = client.post("/api/auth/logout")
    assert response.status_code == 200
    assert any(c.startswith('access_token=""') or "Max-Age=0" in c for c in response.headers.get_list("set-cookie"))
    assert client.get("/api/auth/me").status_code == 401
    replay = httpx.get(f"{server.url}/api/auth/me", cookies={"access_token": stolen or ""})
    assert replay.status_code == 401


def test_refresh_cookie_renews_the_session(server: LiveServer, browser: Browser) -> None:
    client, email = browser.http, browser.email
    old_refresh = client.cookies.get("refresh_token", path="/api/auth")
    response = client.post("/api/auth/refresh")
    assert response.status_code == 200 and response.json()["email"] == email
    assert client.cookies.get("refresh_token", path="/api/auth") != old_refresh
    assert client.get("/api/auth/me").status_code == 200


def test_cookie_writes_from_a_foreign_origin_are_refused(server: LiveServer, browser: Browser) -> None:
    client = browser.http
    evil = client.post("/api/auth/logout", headers={"Origin": "https://evil.example"})
    assert_envelope(evil, 403, "authorization_error")
    evil_referer = client.put(
        "/auth/gpu-endpoint",
        json={"gpu_endpoint": "https://gpu.example.com"},
        headers={"Referer": "https://evil.example/page"},
    )
    assert_envelope(evil_referer, 403, "authorization_error")
    assert client.get("/api/auth/me").status_code == 200  # still signed in: nothing happened


def test_cookie_writes_from_the_own_origin_pass(server: LiveServer, browser: Browser) -> None:
    client = browser.http
    response = client.put(
        "/auth/gpu-endpoint", json={"gpu_endpoint": "https://gpu.example.com"}, headers={"Origin": server.url}
    )
    assert response.status_code == 200
    # A frontend that sends no Origin at all (server-side code, curl) keeps working.
    assert client.put("/auth/gpu-endpoint", json={"gpu_endpoint": None}).status_code == 200

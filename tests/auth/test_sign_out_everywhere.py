"""Sign out everywhere (`POST /api/auth/logout-all`): every session of the caller ends at once, whichever
device asks and however it is signed in; nobody else's session is touched, and the password still works."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import PASSWORD, Account, LiveServer, assert_envelope, register_and_login


@pytest.fixture
def browser(server: LiveServer) -> Iterator[httpx.Client]:
    """A cookie-keeping client, like a browser tab."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def me(client: httpx.Client, access_token: str) -> int:
    return client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"}).status_code


def refresh(client: httpx.Client, refresh_token: str) -> int:
    return client.post("/auth/refresh", json={"refresh_token": refresh_token}).status_code


def sign_in(client: httpx.Client, email: str) -> int:
    return client.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code


@pytest.mark.parametrize("asked_by", ["bearer", "cookie"])
def test_every_session_of_the_caller_ends_and_no_one_elses(
    client: httpx.Client, browser: httpx.Client, account: Account, asked_by: str
) -> None:
    laptop = account
    phone = client.post("/auth/login", json={"email": account.email, "password": PASSWORD}).json()
    bystander = register_and_login(client, "bystander")
    if asked_by == "cookie":
        assert browser.post("/api/auth/login", json={"email": account.email, "password": PASSWORD}).is_success
        answer = browser.post("/api/auth/logout-all", headers={"Origin": str(browser.base_url).rstrip("/")})
    else:
        answer = browser.post("/api/auth/logout-all", headers=laptop.headers)
    assert answer.status_code == 204, answer.text
    assert answer.headers["cache-control"] == "no-store"

    expected = [
        ("the laptop's access token", me(client, laptop.access_token), 401),
        ("the phone's access token", me(client, phone["access_token"]), 401),
        ("the laptop's refresh token", refresh(client, laptop.refresh_token), 401),
        ("the phone's refresh token", refresh(client, phone["refresh_token"]), 401),
        ("the caller's cookies", browser.get("/api/auth/me").status_code, 401),
        ("another user's access token", me(client, bystander.access_token), 200),
        ("another user's refresh token", refresh(client, bystander.refresh_token), 200),
        ("a new sign-in with the same password", sign_in(client, account.email), 200),
    ]
    assert [(what, got) for what, got, _ in expected] == [(what, status) for what, _, status in expected]


def test_the_callers_cookies_are_cleared(browser: httpx.Client, account: Account) -> None:
    assert browser.post("/api/auth/login", json={"email": account.email, "password": PASSWORD}).is_success
    answer = browser.post("/api/auth/logout-all")
    assert answer.status_code == 204
    cleared = answer.headers.get_list("set-cookie")
    assert {cookie.split("=")[0] for cookie in cleared} == {"access_token", "refresh_token"}
    assert all('=""' in cookie and "Max-Age=0" in cookie for cookie in cleared), cleared
    assert "access_token" not in browser.cookies


@pytest.mark.parametrize(
    ("who", "status", "error"),
    [
        ("nobody signed in", 401, "authentication_error"),
        ("a cookie sent by a foreign page", 403, "authorization_error"),
    ],
)
def test_it_is_refused_to(browser: httpx.Client, account: Account, who: str, status: int, error: str) -> None:
    if who == "a cookie sent by a foreign page":
        assert browser.post("/api/auth/login", json={"email": account.email, "password": PASSWORD}).is_success
    answer = browser.post("/api/auth/logout-all", headers={"Origin": "http://localhost:3000"})
    assert_envelope(answer, status, error)
    assert "set-cookie" not in answer.headers
    assert me(browser, account.access_token) == 200  # nothing ended

"""Cross-site requests: every cookie-authenticated write and every cookie sign-in is origin-checked,
on every router, and the refusal tells the operator what to change. Token replies are never cached."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.auth.test_cookie_flow import Browser
from tests.support import PASSWORD, Account, LiveServer, assert_envelope, unique_email

EVIL = "http://localhost:3000"

# One cookie-authenticated write per router: accounts, PocketBase, gallery, folders, collection, uploads.
COOKIE_WRITES = [
    ("POST", "/api/collections/users/auth-refresh", None),
    ("POST", "/api/auth/refresh", None),
    ("POST", "/api/auth/logout", None),
    ("PUT", "/auth/gpu-endpoint", {"gpu_endpoint": None}),
    ("POST", "/api/custom/preferences/save", {"model_name": "m", "preferences": {"a": 1}}),
    ("POST", "/api/folders", {"name": "x"}),
    ("POST", "/api/upload/presigned-url", {"filename": "a.jpg", "content_type": "image/jpeg", "size": 10}),
    ("DELETE", "/collection/items/abcdefghijklmno", None),
]


@pytest.fixture
def browser(server: LiveServer) -> Iterator[Browser]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        email = unique_email("csrf")
        assert http.post("/api/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
        assert http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
        yield Browser(http, email)


@pytest.mark.parametrize(("method", "path", "body"), COOKIE_WRITES)
@pytest.mark.parametrize(
    "sender",
    [
        {"Origin": EVIL},
        {"Referer": f"{EVIL}/page"},
        {"Origin": "null"},
        {"Origin": EVIL, "Authorization": ""},  # an empty header falls back to the cookie
    ],
)
def test_a_cookie_write_from_a_foreign_page_is_refused_naming_the_setting(
    browser: Browser, method: str, path: str, body: object, sender: dict[str, str]
) -> None:
    response = browser.http.request(method, path, json=body, headers=sender)
    error = assert_envelope(response, 403, "authorization_error") if "/collections/" not in path else response.json()
    assert response.status_code == 403
    assert "ALLOWED_ORIGINS" in error["message"]
    assert "set-cookie" not in response.headers
    assert browser.http.get("/api/auth/me").status_code == 200  # still signed in: nothing happened


@pytest.mark.parametrize(("method", "path", "body"), COOKIE_WRITES[:2] + COOKIE_WRITES[3:])
def test_a_cookie_write_from_the_own_page_or_a_program_passes(
    server: LiveServer, browser: Browser, method: str, path: str, body: object
) -> None:
    for headers in ({"Origin": server.url}, {}):
        response = browser.http.request(method, path, json=body, headers=headers)
        assert response.status_code not in (401, 403), (headers, response.text)


def test_a_bearer_request_from_any_origin_is_not_a_forgery(client: httpx.Client, account: Account) -> None:
    response = client.post("/api/folders", json={"name": "x"}, headers={**account.headers, "Origin": EVIL})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("origin", "signed_in"),
    [(EVIL, False), ("https://attacker.example", False), (None, True)],
)
def test_a_cookie_sign_in_from_a_foreign_page_sets_no_cookie(
    server: LiveServer, origin: str | None, signed_in: bool
) -> None:
    """Login CSRF: a foreign page must not sign the visitor into an account the page chose."""
    with httpx.Client(base_url=server.url) as http:
        email = unique_email("login-csrf")
        http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        headers = {"Origin": origin} if origin else {}
        response = http.post("/api/auth/login", json={"email": email, "password": PASSWORD}, headers=headers)
        assert (response.status_code == 200) is signed_in
        assert ("access_token" in http.cookies) is signed_in


def test_an_allowed_origin_may_sign_in_and_write(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.support import live_server

    with (
        live_server(tmp_path_factory.mktemp("cors"), allowed_origins=EVIL) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        email = unique_email("allowed")
        http.post("/api/auth/register", json={"email": email, "password": PASSWORD})
        login = http.post("/api/auth/login", json={"email": email, "password": PASSWORD}, headers={"Origin": EVIL})
        assert login.status_code == 200
        assert http.post("/api/folders", json={"name": "x"}, headers={"Origin": EVIL}).status_code == 201


@pytest.mark.parametrize(
    ("path", "body", "bearer"),
    [
        ("/auth/login", "email", False),
        ("/auth/refresh", "refresh", False),
        ("/api/auth/login", "email", False),
        ("/api/auth/password", "password", True),
        ("/api/collections/users/auth-with-password", "identity", False),
        ("/api/collections/users/auth-refresh", None, True),
    ],
)
def test_every_reply_carrying_a_token_is_not_stored(
    client: httpx.Client, account: Account, path: str, body: str | None, bearer: bool
) -> None:
    bodies = {
        "email": {"email": account.email, "password": PASSWORD},
        "refresh": {"refresh_token": account.refresh_token},
        "password": {"old_password": PASSWORD, "new_password": PASSWORD},
        "identity": {"identity": account.email, "password": PASSWORD},
    }
    response = client.post(path, json=bodies.get(body or ""), headers=account.headers if bearer else {})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"

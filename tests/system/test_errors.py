"""Every failure answers in one envelope; no input makes a 500; responses carry security headers."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support import Account, assert_envelope


def test_unknown_route_is_a_404_envelope(client: httpx.Client) -> None:
    assert_envelope(client.get("/no/such/route"), 404, "not_found")


def test_wrong_method_is_a_405_envelope(client: httpx.Client) -> None:
    body = assert_envelope(client.delete("/auth/login"), 405, "method_not_allowed")
    assert "method" in body["message"].lower()


def test_pocketbase_paths_answer_in_pocketbase_envelope(client: httpx.Client) -> None:
    response = client.get("/api/collections/users/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"data": {}, "message": "The requested resource wasn't found.", "status": 404}


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/auth/register", b"\xff\xfe garbage"),
        ("POST", "/auth/refresh", b'{"refresh_token": '),
        ("PUT", "/auth/gpu-endpoint", b"null"),
        ("POST", "/api/auth/login", b'"just a string"'),
        ("POST", "/api/auth/password", b"[]"),
        ("POST", "/api/collections/users/records", b"{"),
        ("POST", "/api/collections/users/auth-with-password", b"\x00\x01"),
    ],
)
def test_malformed_bodies_never_make_a_500(
    client: httpx.Client, account: Account, method: str, path: str, content: bytes
) -> None:
    response = client.request(
        method, path, content=content, headers={**account.headers, "content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


def test_security_headers_and_request_id(client: httpx.Client) -> None:
    response = client.get("/api/health/status", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-request-id"] == "trace-123"
    generated = client.get("/api/health/status").headers["x-request-id"]
    assert len(generated) == 32
    unsafe = client.get("/api/health/status", headers={"X-Request-ID": "bad id\twith junk"})
    assert unsafe.headers["x-request-id"] != "bad id\twith junk"


def test_openapi_and_docs_are_served(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "/auth/login" in spec["paths"] and "/api/check_auth" in spec["paths"]
    assert "OAuth2PasswordBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


def test_cors_allows_only_configured_origins(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tests.support import live_server

    allowed = "http://localhost:3000"
    with live_server(tmp_path_factory.mktemp("cors"), allowed_origins=[allowed]) as server:
        preflight = {"Access-Control-Request-Method": "POST"}
        ok = httpx.options(f"{server.url}/auth/login", headers={"Origin": allowed, **preflight})
        assert ok.headers["access-control-allow-origin"] == allowed
        assert ok.headers["access-control-allow-credentials"] == "true"
        other = httpx.options(f"{server.url}/auth/login", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers


def test_health_is_503_when_the_database_is_gone(tmp_path_factory: pytest.TempPathFactory) -> None:
    from sqlalchemy.engine import make_url

    from tests.support import live_server, pg_admin_execute, postgres_database

    with postgres_database() as url, live_server(tmp_path_factory.mktemp("down"), database_url=url) as server:
        assert httpx.get(f"{server.url}/health").status_code == 200
        pg_admin_execute(f'DROP DATABASE "{make_url(url).database}" WITH (FORCE)')
        # The check is cached for at most a second: within two the outage shows.
        deadline = time.monotonic() + 2
        while (response := httpx.get(f"{server.url}/health")).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert response.status_code == 503
        assert response.json()["database"]["ok"] is False


@pytest.mark.parametrize(
    ("method", "path", "content"),
    [
        ("POST", "/auth/login", b"[" * 100_000),
        ("POST", "/auth/register", b"[" * 100_000),
        ("POST", "/api/collections/users/auth-with-password", b"[" * 100_000),
        ("POST", "/api/collections/users/records", b"{" * 100_000),
        ("POST", "/collection/items", b"[" * 100_000),
        ("POST", "/api/custom/preferences/save", b"[" * 100_000),
    ],
)
def test_deeply_nested_json_is_a_400(
    client: httpx.Client, account: Account, method: str, path: str, content: bytes
) -> None:
    response = client.request(
        method, path, content=content, headers={**account.headers, "content-type": "application/json"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/custom/collections/create", {"name": "bad\x00name"}),
        ("/api/custom/preferences/save", {"model_name": "m", "preferences": {"scale": float("nan")}}),
        ("/api/custom/preferences/save", {"model_name": "m", "preferences": {"a": "nul\x00"}}),
        ("/api/custom/preferences/get", {"model_name": "m\x00"}),
        ("/api/upload/presigned-url", {"filename": "a\x00.jpg", "content_type": "image/jpeg", "size": 1}),
    ],
)
def test_values_a_database_cannot_store_are_refused(
    client: httpx.Client, account: Account, path: str, body: dict[str, object]
) -> None:
    import json

    content = json.dumps(body)  # allow_nan: the client sends NaN as JSON's non-standard literal
    response = client.post(path, content=content, headers={**account.headers, "content-type": "application/json"})
    assert_envelope(response, 422, "validation_error")


def test_oversized_bodies_on_sign_in_routes_are_413(client: httpx.Client) -> None:
    big = b'{"email": "a@b.co", "password": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    for path in ("/auth/login", "/api/collections/users/auth-with-password", "/api/collections/users/records"):
        response = client.post(path, content=big, headers={"content-type": "application/json"})
        assert response.status_code == 413, (path, response.text[:200])

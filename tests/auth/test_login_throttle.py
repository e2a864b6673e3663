"""Failed sign-ins are throttled per account and per IP, in memory or in Redis; normal use never is."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.support import PASSWORD, REDIS_URL, LiveServer, assert_envelope, live_server, unique_email

LIMITS = {"login_failures_per_account": 3, "login_failures_per_ip": 8, "login_failure_window_s": 60}


@pytest.fixture(params=["memory", "redis"])
def throttled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A server with small limits; the Redis variant starts each test with no failures counted (only the
    throttle's own keys are cleared: the Redis is shared)."""
    redis_url = REDIS_URL if request.param == "redis" else None
    if redis_url:
        shared = redis.Redis.from_url(redis_url)
        if counted := list(shared.scan_iter("artboard:login-attempts:*")):
            shared.delete(*counted)
    with live_server(tmp_path, redis_url=redis_url, **LIMITS) as server:
        yield server


def _register(client: httpx.Client) -> str:
    email = unique_email(f"throttle-{uuid.uuid4().hex[:4]}")
    assert client.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    return email


def test_account_is_locked_after_repeated_failures_on_every_login_route(throttled: LiveServer) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        email = _register(client)
        for _ in range(3):
            assert client.post("/auth/login", json={"email": email, "password": "wrong-password"}).status_code == 401
        for path, body in (
            ("/auth/login", {"email": email, "password": PASSWORD}),
            ("/api/auth/login", {"email": email, "password": PASSWORD}),
        ):
            locked = client.post(path, json=body)
            assert_envelope(locked, 429, "rate_limit_error")
            assert 1 <= int(locked.headers["Retry-After"]) <= 60
        pocketbase = client.post(
            "/api/collections/users/auth-with-password", json={"identity": email, "password": PASSWORD}
        )
        assert pocketbase.status_code == 429 and pocketbase.json()["status"] == 429
        assert "Retry-After" in pocketbase.headers


def test_successful_logins_are_never_throttled(throttled: LiveServer) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        email = _register(client)
        for _ in range(20):
            assert client.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200


def test_a_success_clears_the_account_counter(throttled: LiveServer) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        email = _register(client)
        for _ in range(2):
            client.post("/auth/login", json={"email": email, "password": "wrong-password"})
        assert client.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
        for _ in range(2):
            client.post("/auth/login", json={"email": email, "password": "wrong-password"})
        assert client.post("/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200


def test_one_ip_guessing_many_accounts_is_throttled(throttled: LiveServer) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        for _ in range(8):
            response = client.post("/auth/login", json={"email": unique_email(), "password": "guess-guess"})
            assert response.status_code == 401
        blocked = client.post("/auth/login", json={"email": _register(client), "password": PASSWORD})
        assert_envelope(blocked, 429, "rate_limit_error")


def test_a_burst_of_parallel_guesses_is_cut_off_at_the_limit(throttled: LiveServer) -> None:
    """Attempts count before the (slow) password check, so parallel guesses cannot all be evaluated."""
    from concurrent.futures import ThreadPoolExecutor

    with httpx.Client(base_url=throttled.url) as client:
        email = _register(client)

    def guess(index: int) -> int:
        with httpx.Client(base_url=throttled.url, timeout=30) as own:
            return own.post("/auth/login", json={"email": email, "password": f"guess-{index:04d}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(guess, range(20)))
    # At most the account's limit reach the password check (fewer when the per-IP count fills first).
    assert 1 <= statuses.count(401) <= LIMITS["login_failures_per_account"]
    assert statuses.count(429) == 20 - statuses.count(401)

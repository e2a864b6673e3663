"""Seed 001's key vault over HTTP: keys stored sealed under a vault password, key sessions opened with it,
ended, expired and swept, throttled wrong passwords, and sessions in Redis shared by every instance."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

from artboard.auth.service import LoginLimits
from artboard.kit.ratelimit import MemoryFailureCounter
from artboard.vault.crypto import ServerKey
from artboard.vault.service import Vault
from artboard.vault.sessions import RedisSessionStore
from tests.support import (
    REDIS_URL,
    Account,
    LiveServer,
    assert_envelope,
    live_server,
    register_and_login,
    run_sql,
)

VAULT_PASSWORD = "my vault password"
# Fewer iterations where many derivations run and the count is not what the test is about.
QUICK = {"vault_kdf_iterations": 100_000}


def fal_key() -> str:
    return f"fal-{uuid.uuid4().hex}:{uuid.uuid4().hex}"


def setup(client: httpx.Client, account: Account, fal: str, password: str = VAULT_PASSWORD, **extra: Any) -> None:
    response = client.post(
        "/api/custom/tokens/setup", json={"fal_token": fal, "password": password, **extra}, headers=account.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "message": "FAL token setup successfully"}


def open_session(client: httpx.Client, account: Account, password: str = VAULT_PASSWORD) -> str:
    response = client.post("/api/custom/auth/create-session", json={"password": password}, headers=account.headers)
    assert response.status_code == 200, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def token_status(client: httpx.Client, account: Account) -> dict[str, bool]:
    response = client.get("/api/custom/auth/token-status", headers=account.headers)
    assert response.status_code == 200, response.text
    status: dict[str, bool] = response.json()
    assert status["requires_login"] == (status["has_token"] and not status["has_active_session"])
    return status


def delete_session(client: httpx.Client, account: Account, session_id: str) -> httpx.Response:
    return client.delete("/api/custom/auth/session", headers={**account.headers, "X-Session-ID": session_id})


def eventually(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


NO_KEYS = {"has_token": False, "has_active_session": False, "requires_login": False}
LOCKED = {"has_token": True, "has_active_session": False, "requires_login": True}
READY = {"has_token": True, "has_active_session": True, "requires_login": False}


def test_setup_verify_open_a_session_and_end_it(server: LiveServer, client: httpx.Client, account: Account) -> None:
    fal, openai = fal_key(), f"sk-{uuid.uuid4().hex}"
    assert token_status(client, account) == NO_KEYS
    setup(client, account, fal, openai_token=openai)
    assert token_status(client, account) == LOCKED

    verified = client.post("/api/custom/tokens/verify", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert verified.json() == {"has_token": True, "can_decrypt": True}

    opened = client.post("/api/custom/auth/create-session", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert opened.status_code == 200 and opened.headers["Cache-Control"] == "no-store"
    session_id, expires_at = opened.json()["session_id"], opened.json()["expires_at"]
    assert uuid.UUID(session_id).version == 4
    assert expires_at.endswith("Z")
    lifetime = datetime.fromisoformat(expires_at) - datetime.now(UTC)
    assert timedelta(hours=23) < lifetime <= timedelta(hours=24)
    assert token_status(client, account) == READY

    ended = delete_session(client, account, session_id)
    assert ended.json() == {"success": True, "message": "Session deleted successfully"}
    assert token_status(client, account) == LOCKED
    assert_envelope(delete_session(client, account, session_id), 404, "not_found")

    # At rest: one row per provider, sealed, naming its scheme and iteration count; no key in clear.
    rows = run_sql(server, "SELECT provider, sealed FROM vault_keys WHERE owner_id = :o", o=account.user["id"])
    assert {row.provider for row in rows} == {"fal", "openai"}
    for row in rows:
        assert row.sealed.startswith("$aes256gcm-pbkdf2sha256$i=600000$")
        assert fal not in row.sealed and openai not in row.sealed and VAULT_PASSWORD not in row.sealed


def test_a_wrong_password_opens_nothing(client: httpx.Client, account: Account) -> None:
    setup(client, account, fal_key())
    verified = client.post("/api/custom/tokens/verify", json={"password": "not my password"}, headers=account.headers)
    assert verified.json() == {"has_token": True, "can_decrypt": False}
    refused = client.post(
        "/api/custom/auth/create-session", json={"password": "not my password"}, headers=account.headers
    )
    body = assert_envelope(refused, 401, "authentication_error")
    assert "vault password" in body["message"]
    assert token_status(client, account) == LOCKED


def test_without_stored_keys_there_is_nothing_to_open(client: httpx.Client, account: Account) -> None:
    verified = client.post("/api/custom/tokens/verify", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert verified.json() == {"has_token": False, "can_decrypt": False}
    missing = client.post("/api/custom/auth/create-session", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert "/api/custom/tokens/setup" in assert_envelope(missing, 404, "not_found")["message"]


def test_another_users_session_id_is_useless(client: httpx.Client, account: Account) -> None:
    setup(client, account, fal_key())
    session_id = open_session(client, account)
    other = register_and_login(client)
    assert token_status(client, other) == NO_KEYS
    for attempt in (session_id, session_id.upper(), str(uuid.uuid4()), "x" * 128):
        assert_envelope(delete_session(client, other, attempt), 404, "not_found")
    assert token_status(client, account) == READY


def test_setting_up_again_replaces_the_keys_and_ends_their_sessions(
    server: LiveServer, client: httpx.Client, account: Account
) -> None:
    setup(client, account, fal_key(), openai_token="sk-first")
    session_id = open_session(client, account)
    setup(client, account, fal_key(), password="a new vault password")
    assert token_status(client, account) == LOCKED
    assert_envelope(delete_session(client, account, session_id), 404, "not_found")
    refused = client.post("/api/custom/auth/create-session", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert_envelope(refused, 401, "authentication_error")
    open_session(client, account, "a new vault password")
    rows = run_sql(server, "SELECT provider FROM vault_keys WHERE owner_id = :o", o=account.user["id"])
    assert [row.provider for row in rows] == ["fal"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"fal_token": "fal-key"},
        {"password": VAULT_PASSWORD},
        {"fal_token": "fal-key", "password": "short"},
        {"fal_token": "", "password": VAULT_PASSWORD},
        {"fal_token": "   ", "password": VAULT_PASSWORD},
        {"fal_token": "k" * 4097, "password": VAULT_PASSWORD},
        {"fal_token": "fal-key", "password": "p" * 129},
        {"fal_token": "fal-key", "password": VAULT_PASSWORD, "openai_token": ""},
        {"fal_token": 42, "password": VAULT_PASSWORD},
    ],
)
def test_setup_refuses_bad_bodies(client: httpx.Client, account: Account, body: dict[str, Any]) -> None:
    assert_envelope(
        client.post("/api/custom/tokens/setup", json=body, headers=account.headers), 422, "validation_error"
    )
    assert token_status(client, account) == NO_KEYS


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/custom/tokens/setup", {"fal_token": "fal-key", "password": VAULT_PASSWORD}),
        ("POST", "/api/custom/tokens/verify", {"password": VAULT_PASSWORD}),
        ("POST", "/api/custom/auth/create-session", {"password": VAULT_PASSWORD}),
        ("DELETE", "/api/custom/auth/session", None),
        ("GET", "/api/custom/auth/token-status", None),
    ],
)
def test_every_vault_route_needs_a_sign_in(
    client: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = client.request(method, path, json=body, headers={"X-Session-ID": str(uuid.uuid4())})
    assert_envelope(response, 401, "authentication_error")


def test_ending_a_session_needs_its_id(client: httpx.Client, account: Account) -> None:
    assert_envelope(client.delete("/api/custom/auth/session", headers=account.headers), 422, "validation_error")


# ---- servers of their own: throttling, logs, expiry and sweep, Redis ---------------------------------------


def test_setups_at_the_same_moment_all_succeed_and_one_of_them_is_kept(client: httpx.Client) -> None:
    account = register_and_login(client)  # no keys yet: every setup may be the first
    keys = [fal_key() for _ in range(4)]
    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(lambda key: setup(client, account, key, openai_token=f"sk-{key}"), keys))
    verified = client.post("/api/custom/tokens/verify", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert verified.json() == {"has_token": True, "can_decrypt": True}


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("vault-throttled"), login_failures_per_account=3, **QUICK) as running:
        yield running


@pytest.mark.parametrize("path", ["/api/custom/tokens/verify", "/api/custom/auth/create-session"])
def test_wrong_vault_passwords_are_throttled_like_sign_ins(throttled: LiveServer, path: str) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        account = register_and_login(client)
        setup(client, account, fal_key())
        for _ in range(3):
            assert client.post(path, json={"password": "a guess"}, headers=account.headers).status_code in (200, 401)
        for password in ("another guess", VAULT_PASSWORD):  # once locked, even the right one waits
            locked = client.post(path, json={"password": password}, headers=account.headers)
            assert_envelope(locked, 429, "rate_limit_error")
            assert 1 <= int(locked.headers["Retry-After"]) <= 300
        # Sign-in attempts are counted apart: the account still signs in.
        assert client.post("/auth/login", json={"email": account.email, "password": account.password}).is_success


def test_a_right_password_takes_its_attempt_back(throttled: LiveServer) -> None:
    with httpx.Client(base_url=throttled.url) as client:
        account = register_and_login(client)
        setup(client, account, fal_key())
        for _ in range(5):
            verified = client.post(
                "/api/custom/tokens/verify", json={"password": VAULT_PASSWORD}, headers=account.headers
            )
            assert verified.json() == {"has_token": True, "can_decrypt": True}


def test_keys_and_passwords_are_never_logged_or_returned(
    throttled: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fal, openai = fal_key(), f"sk-{uuid.uuid4().hex}"
    with httpx.Client(base_url=throttled.url) as client:
        account = register_and_login(client)
        replies = [
            client.post(
                "/api/custom/tokens/setup",
                json={"fal_token": fal, "password": VAULT_PASSWORD, "openai_token": openai},
                headers=account.headers,
            ),
            client.post(
                "/api/custom/tokens/setup", json={"fal_token": fal, "password": "short"}, headers=account.headers
            ),
            client.post("/api/custom/tokens/verify", json={"password": VAULT_PASSWORD}, headers=account.headers),
            client.post("/api/custom/auth/create-session", json={"password": VAULT_PASSWORD}, headers=account.headers),
            client.post("/api/custom/auth/create-session", json={"password": "wrong one"}, headers=account.headers),
            client.get("/api/custom/auth/token-status", headers=account.headers),
        ]
    assert [reply.status_code for reply in replies] == [200, 422, 200, 200, 401, 200]
    for secret in (fal, openai, VAULT_PASSWORD, "wrong one"):
        assert secret not in caplog.text
        assert all(secret not in reply.text for reply in replies)


def session_counts(client: httpx.Client) -> dict[str, int]:
    counts: dict[str, int] = client.get("/api/custom/status").json()["services"]["sessions"]
    return counts


def test_a_session_expires_after_its_lifetime_and_the_sweep_forgets_it(tmp_path: Path) -> None:
    with ExitStack() as stack:
        unswept = stack.enter_context(live_server(tmp_path / "a", vault_session_ttl_s=1, **QUICK))
        swept = stack.enter_context(
            live_server(tmp_path / "b", vault_session_ttl_s=1, vault_sweep_interval_s=1, **QUICK)
        )
        for running in (unswept, swept):
            with httpx.Client(base_url=running.url) as client:
                account = register_and_login(client)
                setup(client, account, fal_key())
                session_id = open_session(client, account)
                eventually(lambda: token_status(client, account) == LOCKED, "the session outlived its lifetime")  # noqa: B023
                assert_envelope(delete_session(client, account, session_id), 404, "not_found")
                assert session_counts(client)["active"] == 0
        with httpx.Client(base_url=unswept.url) as client:
            assert session_counts(client) == {"active": 0, "total": 1}  # expired, held until the hourly sweep
        with httpx.Client(base_url=swept.url) as client:
            eventually(lambda: session_counts(client)["total"] == 0, "the sweep did not forget the expired session")


def test_redis_sessions_are_shared_by_every_instance_and_worker(tmp_path: Path) -> None:
    """Two servers over one database, Redis and secret: a session opened on one is open on the other, a
    worker process reads its key through the vault, Redis never holds the key in clear, and ending it on
    either instance ends it everywhere."""
    secret = "v" * 48
    shared = {"database_url": f"sqlite:///{tmp_path / 'shared.db'}", "secret_key": secret, "redis_url": REDIS_URL}
    fal = fal_key()
    with ExitStack() as stack:
        first, second = (stack.enter_context(live_server(tmp_path / name, **shared, **QUICK)) for name in "ab")
        a, b = (stack.enter_context(httpx.Client(base_url=server.url)) for server in (first, second))
        account = register_and_login(a)
        setup(a, account, fal, openai_token="sk-shared")
        session_id = open_session(a, account)
        assert token_status(b, account) == READY
        assert session_counts(b)["active"] >= 1

        stored = Redis.from_url(REDIS_URL)
        values = [stored.get(key) or b"" for key in stored.scan_iter("artboard:vault:session:*")]
        assert values and all(fal.encode() not in value and session_id.encode() not in value for value in values)
        assert not list(stored.scan_iter(f"*{session_id}*"))

        owner = account.user["id"]
        assert asyncio.run(provider_keys(secret, session_id, owner)) == (fal, "sk-shared")
        other = register_and_login(a)
        assert asyncio.run(provider_keys(secret, session_id, other.user["id"])) == (None, None)
        assert asyncio.run(provider_keys("another deployment's secret!", session_id, owner)) == (None, None)

        assert delete_session(b, account, session_id).status_code == 200
        assert token_status(a, account) == LOCKED
        assert asyncio.run(provider_keys(secret, session_id, owner)) == (None, None)


async def provider_keys(secret: str, session_id: str, owner_id: str) -> tuple[str | None, str | None]:
    """The FAL and OpenAI keys a worker on another machine gets from the vault for this session and user."""
    redis = AsyncRedis.from_url(REDIS_URL)
    try:
        store = RedisSessionStore(redis, ServerKey(secret, "vault sessions"))
        vault = Vault(store, MemoryFailureCounter(), LoginLimits(10, 100, 300), timedelta(hours=24), 100_000)
        return await vault.provider_key(session_id, owner_id, "fal"), await vault.provider_key(
            session_id, owner_id, "openai"
        )
    finally:
        await redis.aclose()

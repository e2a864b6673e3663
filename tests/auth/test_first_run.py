"""First run: `artboard serve` on a server with no admin prints a one-time link whose token creates the first
admin once, before it expires, and signs them in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import artboard
from artboard.auth.first_run import ENVIRONMENT, TOKENS, FirstRunTokens
from tests.support import (
    PASSWORD,
    LiveServer,
    assert_envelope,
    clean_env,
    free_port,
    live_server,
    serving_process,
    unique_email,
)

ARTBOARD = str(Path(sys.executable).parent / "artboard")
# Child processes import the same Artboard as this test process.
CHILD_ENV = {"PYTHONPATH": str(Path(artboard.__file__).parents[1])}
LINK = re.compile(r"open (http://\S+/#first-run=(\S+)) to create the first one \(works once, for 60 minutes\)")


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own: the first admin is made once per database."""
    with live_server(tmp_path / "data") as running:
        yield running


def first_run(server: LiveServer, token: str, email: str | None = None, **extra: str) -> httpx.Response:
    body = {"token": token, "email": email or unique_email("admin"), "password": PASSWORD, **extra}
    return httpx.post(f"{server.url}/api/admin/first-run", json=body, headers={"Origin": server.url})


def test_the_token_creates_the_first_admin_and_signs_them_in(fresh: LiveServer) -> None:
    token = TOKENS.issue()
    created = first_run(fresh, token, "owner@example.com", username="owner")
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "admin"
    assert created.headers["cache-control"] == "no-store"
    cookies = created.cookies
    me = httpx.get(f"{fresh.url}/api/auth/me", cookies=cookies)
    assert me.json()["email"] == "owner@example.com"
    assert httpx.get(f"{fresh.url}/api/admin/queue", cookies=cookies).status_code == 200


def test_the_token_works_once(fresh: LiveServer) -> None:
    token = TOKENS.issue()
    assert first_run(fresh, token).status_code == 201
    assert_envelope(first_run(fresh, token), 401, "authentication_error")


@pytest.mark.parametrize("token", [pytest.param("a-guessed-token", id="wrong"), pytest.param("", id="empty")])
def test_any_other_token_is_refused_and_makes_no_admin(fresh: LiveServer, token: str) -> None:
    real = TOKENS.issue()
    answer = first_run(fresh, token)
    assert answer.status_code in (401, 422), answer.text
    assert first_run(fresh, real).status_code == 201  # the real one still works: nothing was made


def test_an_expired_token_is_refused(fresh: LiveServer) -> None:
    token = TOKENS.issue(lifetime_s=-1)
    body = assert_envelope(first_run(fresh, token), 401, "authentication_error")
    assert "expired" in body["message"]


def test_a_server_that_has_an_admin_refuses_a_new_token(fresh: LiveServer) -> None:
    assert first_run(fresh, TOKENS.issue()).status_code == 201
    body = assert_envelope(first_run(fresh, TOKENS.issue()), 409, "conflict")
    assert body["message"] == "This server already has an admin: sign in instead."


def test_a_refused_registration_leaves_the_token_usable(fresh: LiveServer) -> None:
    email = unique_email("taken")
    assert httpx.post(f"{fresh.url}/api/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    token = TOKENS.issue()
    assert_envelope(first_run(fresh, token, email), 409, "conflict")
    assert first_run(fresh, token).status_code == 201


def test_a_first_run_from_a_foreign_page_is_refused_and_leaves_the_token_usable(fresh: LiveServer) -> None:
    """Login CSRF: the route sets the auth cookies, so a page elsewhere must not sign the visitor in through it."""
    token = TOKENS.issue()
    body = {"token": token, "email": unique_email("admin"), "password": PASSWORD}
    foreign = httpx.post(f"{fresh.url}/api/admin/first-run", json=body, headers={"Origin": "http://localhost:3000"})
    assert_envelope(foreign, 403, "authorization_error")
    assert "set-cookie" not in foreign.headers
    assert first_run(fresh, token).status_code == 201


def test_worker_processes_accept_the_token_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    issuer = FirstRunTokens()
    token = issuer.issue()
    monkeypatch.setenv(ENVIRONMENT, os.environ[ENVIRONMENT])
    worker = FirstRunTokens()  # another process: nothing in memory, the digest in its environment
    assert worker.valid(token)
    assert not worker.valid(token + "x")
    worker.spend()
    assert not worker.valid(token)


def serve_log(cwd: Path, data_dir: Path) -> str:
    """The output of `artboard serve` up to its announcement (the link, when there is one, comes with it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [ARTBOARD, "serve", "--port", str(port), "--data-dir", str(data_dir)]
    log = cwd / "first-run.log"
    log.unlink(missing_ok=True)
    with serving_process(argv, cwd, f"{url}/health", env=CHILD_ENV, log_name=log.name):
        deadline = time.monotonic() + 30
        while "listening on" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        return log.read_text()


def test_serve_prints_the_link_only_while_there_is_no_admin(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = serve_log(tmp_path, data_dir)
    links = LINK.findall(first)
    assert len(links) == 1, first
    assert len(links[0][1]) >= 40  # 32 random bytes, URL-safe

    admin = ["user", "create", "root@example.com", "--password", PASSWORD, "--admin"]
    made = subprocess.run(
        [ARTBOARD, "--data-dir", str(data_dir), *admin],
        capture_output=True,
        text=True,
        env={**clean_env(), **CHILD_ENV},
    )
    assert made.returncode == 0, made.stderr
    second = serve_log(tmp_path, data_dir)
    assert "listening on" in second
    assert LINK.search(second) is None, second

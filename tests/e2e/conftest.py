"""End-to-end tests of the studio: Debian's Chromium driven by Playwright against a live `artboard serve`.

One server and one browser per module keep the suite fast. Screenshots of each step land in
``test-artifacts/e2e/`` at the repository root.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright

import artboard
from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port, serving_process

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
AXE = REPO / "tests" / "js" / "node_modules" / "axe-core" / "axe.min.js"
ARTBOARD = str(Path(sys.executable).parent / "artboard")
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
# A refused request is logged by Chromium as a console error ("Failed to load resource: ... 401"): the
# failure paths cause those on purpose. Anything else on the console is a bug.
NETWORK_NOISE = re.compile(r"^Failed to load resource: the server responded with a status of (400|401|404|429)\b")


@dataclass
class Studio:
    """A real `artboard serve` process on a fixed port and data dir, which a test may stop and start again."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    _stack: ExitStack | None = None
    process: Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir.parent / "serve.log"

    def start(self, *flags: str) -> None:
        # The child imports the same Artboard as this test process (a checkout's src, or the installed package);
        # the vault's key derivation at its lowest allowed cost keeps storing and unlocking keys quick.
        env = {"PYTHONPATH": str(Path(artboard.__file__).parents[1]), "ARTBOARD_VAULT_KDF_ITERATIONS": "100000"}
        argv = [ARTBOARD, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir), *flags]
        self._stack = ExitStack()
        self.process = self._stack.enter_context(
            serving_process(argv, self.data_dir.parent, f"{self.url}/health", env=env)
        )

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None

    def first_run_link(self) -> str:
        """The one-time link the latest start printed."""
        for _ in range(200):
            links = re.findall(r"open (http://\S+#first-run=\S+) to create the first one", self.log.read_text())
            if links:
                return str(links[-1])
            time.sleep(0.05)
        raise AssertionError(f"no first-run link in the log:\n{self.log.read_text()[-2000:]}")


def start_studio(tmp_path_factory: pytest.TempPathFactory, *flags: str) -> Iterator[Studio]:
    studio = Studio(tmp_path_factory.mktemp("studio") / "data")
    studio.start(*flags)
    try:
        yield studio
    finally:
        studio.stop()


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    yield from start_studio(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page and what went wrong on it: script errors, console errors, requests to another host."""

    page: Page
    problems: list[str]
    tolerated: list[re.Pattern[str]] = field(default_factory=list)

    def tolerate(self, pattern: str) -> None:
        """Console errors matching ``pattern`` are expected from here on (a server the test stopped)."""
        self.tolerated.append(re.compile(pattern))

    def assert_clean(self) -> None:
        assert self.problems == [], self.problems


@pytest.fixture
def open_page(browser: Browser, studio: Studio) -> Iterator[Callable[..., Watched]]:
    """Open pages on the studio (desktop unless a viewport is given); each must end with a clean console."""
    opened: list[Watched] = []
    own_host = urlsplit(studio.url).netloc

    def open_one(viewport: dict[str, int] | None = None) -> Watched:
        context = browser.new_context(base_url=studio.url, viewport=viewport or DESKTOP, locale="en-US")
        page = context.new_page()
        watched = Watched(page, [])

        def console(message: ConsoleMessage) -> None:
            text = message.text
            if message.type == "error" and not NETWORK_NOISE.match(text):
                if any(pattern.search(text) for pattern in watched.tolerated):
                    return
                watched.problems.append(f"console: {text}")

        def only_the_server(route: Route) -> None:
            if urlsplit(route.request.url).netloc == own_host:
                route.continue_()
            else:
                watched.problems.append(f"request to another host: {route.request.url}")
                route.abort()

        page.on("console", console)
        page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
        page.route("**/*", only_the_server)
        opened.append(watched)
        return watched

    yield open_one
    for watched in opened:
        watched.page.context.close()
    for watched in opened:
        watched.assert_clean()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def audit(page: Page, view: str) -> None:
    """axe-core's audit of the page as it is: no serious or critical violation."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    result: dict[str, Any] = page.evaluate(
        "async () => JSON.parse(JSON.stringify(await axe.run(document, {resultTypes: ['violations']})))"
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{view}: " + json.dumps(bad, indent=1)


def sign_up(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_role("button", name="New here? Create an account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.locator("#drop-zone").wait_for()

"""The interactive docs work in a real browser that can reach nothing but Artboard (an offline host)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from tests.support import CHROMIUM, CHROMIUM_ARGS, LiveServer, live_server, register_and_login


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server is enough: the pages do not depend on the database."""
    with live_server(tmp_path_factory.mktemp("docs-ui")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def offline_page(browser: Browser, docs_server: LiveServer) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any host but the server are aborted and recorded."""
    own_host = urlsplit(docs_server.url).netloc
    elsewhere: list[str] = []

    def only_the_server(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == own_host:
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort()

    context = browser.new_context(base_url=docs_server.url)
    page = context.new_page()
    page.route("**/*", only_the_server)
    yield page, elsewhere
    context.close()


@pytest.mark.parametrize(
    ("path", "login_operation"),
    [
        ("/docs", '.opblock:has(.opblock-summary-path[data-path="/auth/login"])'),
        ("/redoc", '[data-section-id="tag/accounts/operation/login_auth_login_post"]'),
    ],
)
def test_docs_pages_list_the_operations_loading_nothing_from_another_host(
    offline_page: tuple[Page, list[str]], path: str, login_operation: str
) -> None:
    page, elsewhere = offline_page
    page.goto(path, wait_until="networkidle")
    page.locator(login_operation).first.wait_for(state="attached", timeout=20_000)
    assert elsewhere == []


def test_authorize_button_signs_in_through_auth_login(
    offline_page: tuple[Page, list[str]], docs_server: LiveServer
) -> None:
    with httpx.Client(base_url=docs_server.url) as client:
        account = register_and_login(client, "docs")
    page, elsewhere = offline_page
    page.goto("/docs", wait_until="networkidle")
    page.locator("button.authorize").first.click()
    page.fill("#oauth_username", account.email)
    page.fill("#oauth_password", account.password)
    page.locator(".auth-container button.authorize").first.click()
    page.locator(".auth-container h6", has_text="Authorized").wait_for(timeout=10_000)
    page.locator(".auth-container button.btn-done").first.click()

    me = page.locator('.opblock:has(.opblock-summary-path[data-path="/api/auth/me"])')
    me.locator(".opblock-summary").click()
    me.locator("button.try-out__btn").click()
    me.locator("button.execute").click()
    status = me.locator(".live-responses-table tr.response .response-col_status").first
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip() == "200"
    assert account.email in me.locator(".live-responses-table .microlight").first.inner_text()
    assert elsewhere == []

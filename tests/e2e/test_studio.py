"""The studio in a real browser: first run, sign up → upload → charcoal sketch → live card → gallery with its
source → folder → trash → restore, at desktop and phone width; failure paths; an axe audit of each view."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

import artboard.web
from tests import photos
from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, Studio, Watched, audit, shot, sign_up
from tests.support import unique_email

ADMIN_EMAIL = "first-admin@example.com"


@pytest.fixture(scope="module")
def admin_client(studio: Studio) -> Iterator[httpx.Client]:
    """The admin the first-run test created, signed in over the bearer flow (to pause and resume the queue)."""
    with httpx.Client(base_url=studio.url, timeout=30) as client:
        tokens = client.post("/auth/login", json={"email": ADMIN_EMAIL, "password": PASSWORD})
        assert tokens.status_code == 200, "test_first_run_link_makes_the_first_admin must run first"
        client.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"
        yield client


def test_first_run_link_makes_the_first_admin(studio: Studio, open_page: Callable[..., Watched]) -> None:
    link = studio.first_run_link()
    page = open_page().page
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome to Artboard")).to_be_visible()
    audit(page, "first run")
    shot(page, "00-first-run")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin account").click()
    page.locator("#drop-zone").wait_for()
    expect(page.get_by_role("link", name="Admin")).to_be_visible()

    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Job queue")).to_be_visible()
    expect(page.locator("tr", has_text=ADMIN_EMAIL)).to_contain_text("admin")
    audit(page, "admin")
    shot(page, "01-admin")

    again = httpx.post(
        f"{studio.url}/api/admin/first-run",
        json={"token": link.split("first-run=")[1], "email": "second@example.com", "password": PASSWORD},
    )
    assert again.status_code == 401, again.text


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_sign_up_upload_sketch_then_gallery_folder_trash_and_restore(
    open_page: Callable[..., Watched], admin_client: httpx.Client, viewport: dict[str, int], tmp_path: Any
) -> None:
    size = "phone" if viewport is PHONE else "desktop"
    page = open_page(viewport).page
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in to Artboard")).to_be_visible()
    audit(page, "sign in")
    shot(page, f"{size}-10-sign-in")
    sign_up(page, unique_email("studio"))

    photo = tmp_path / "flower.jpg"
    photo.write_bytes(photos.flower())
    page.locator("#file-picker").set_input_files(str(photo))
    upload = page.locator(".upload", has_text="flower.jpg")
    expect(upload.locator(".upload-status")).to_have_text("Uploaded")
    source_id = page.locator('input[name="source"]:checked').get_attribute("value")
    assert source_id

    # Held in the queue (paused by the admin) so the card is seen waiting; then it runs and finishes.
    assert admin_client.post("/api/admin/queue/pause").status_code == 200
    try:
        page.locator("label.style", has_text="Charcoal").click()
        page.get_by_role("button", name="Make sketch").click()
        card = page.locator("article.job").first
        expect(card).to_have_attribute("data-status", "queued")
        expect(card.locator(".job-detail")).to_contain_text("number 1 in line")
        audit(page, "create")
        shot(page, f"{size}-20-queued")
    finally:
        assert admin_client.post("/api/admin/queue/resume").status_code == 200
    expect(card).to_have_attribute("data-status", "succeeded", timeout=30_000)
    assert card.get_attribute("data-seen") == "queued running succeeded"
    expect(card.locator("img")).to_have_attribute("alt", "Charcoal sketch result")
    shot(page, f"{size}-30-done")

    page.get_by_role("link", name="Gallery").click()
    sketch = page.locator(f'li.tile[data-source="{source_id}"]')
    expect(sketch).to_be_visible()
    audit(page, "gallery")
    shot(page, f"{size}-40-gallery")
    sketch.locator("button.picture").click()
    viewer = page.locator("dialog[open]")
    expect(viewer.locator("#open-source")).to_have_attribute("data-image-id", source_id)
    expect(viewer.locator(".lineage")).to_contain_text("sketch:charcoal")
    expect(viewer.locator("#compare-slider")).to_be_visible()
    audit(page, "viewer")
    shot(page, f"{size}-50-viewer")
    viewer.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="New folder").click()
    page.get_by_label("Name").fill("Drawings")
    page.get_by_role("button", name="Create folder").click()
    folder_link = page.locator(".folders a", has_text="Drawings")
    expect(folder_link).to_be_visible()
    move_to_folder(page, sketch, "Drawings")
    folder_link.click()
    expect(page.get_by_role("heading", name="Drawings")).to_be_visible()
    expect(page.locator("li.tile")).to_have_count(1)
    sketch = page.locator(f'li.tile[data-source="{source_id}"]')
    expect(sketch).to_be_visible()

    sketch.locator("summary").click()
    sketch.get_by_role("button", name="Delete").click()
    expect(page.locator(f'li.tile[data-source="{source_id}"]')).to_have_count(0)

    page.get_by_role("link", name="Trash").click()
    item = page.locator("li.trash-item", has_text="Charcoal sketch")
    expect(item).to_be_visible()
    audit(page, "trash")
    shot(page, f"{size}-60-trash")
    item.get_by_role("button", name="Restore Charcoal sketch (basic)").click()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()

    page.get_by_role("link", name="Gallery").click()
    page.locator(".folders a", has_text="Drawings").click()
    expect(page.locator(f'li.tile[data-source="{source_id}"]')).to_be_visible()

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Provider keys")).to_be_visible()
    audit(page, "settings")
    shot(page, f"{size}-70-settings")


def move_to_folder(page: Page, tile: Any, folder: str) -> None:
    tile.locator("summary").click()
    tile.get_by_role("button", name="Move to folder…").click()
    dialog = page.locator("dialog[open]")
    dialog.get_by_label("Folder").select_option(label=folder)
    dialog.get_by_role("button", name="Move").click()
    expect(page.locator("dialog[open]")).to_have_count(0)


def test_a_disguised_non_image_is_refused_with_the_servers_sentence(open_page: Callable[..., Watched]) -> None:
    page = open_page().page
    sign_up(page, unique_email("disguise"))
    page.locator("#file-picker").set_input_files(
        files=[{"name": "holiday.jpg", "mimeType": "image/jpeg", "buffer": b"<?php system($_GET['c']); ?>" * 40}]
    )
    status = page.locator(".upload.failed", has_text="holiday.jpg").locator(".upload-status")
    expect(status).to_have_text(
        "The file is not an image of an accepted type (image/gif, image/jpeg, image/png, image/webp)."
    )
    shot(page, "80-refused-upload")


def test_sign_in_failures_each_say_what_happened(studio: Studio, open_page: Callable[..., Watched]) -> None:
    email = unique_email("failures")
    assert httpx.post(f"{studio.url}/api/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    watched = open_page()
    watched.tolerate("ERR_CONNECTION_REFUSED")
    page = watched.page
    page.goto("/")
    error = page.locator("#auth-error")

    def sign_in(password: str) -> None:
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in", exact=True).click()

    sign_in("not my password")
    expect(error).to_have_text("Wrong email or password. Check both and try again.")
    shot(page, "81-wrong-password")

    page.route("**/api/auth/login", lambda route: route.abort("connectionrefused"))
    sign_in(PASSWORD)
    expect(error).to_have_text("Cannot reach the server. Check that Artboard is running, then try again.")
    page.unroute("**/api/auth/login")

    for _ in range(10):  # the default allowance of failed sign-ins per account and window
        httpx.post(f"{studio.url}/api/auth/login", json={"email": email, "password": "wrong wrong"})
    sign_in(PASSWORD)
    expect(error).to_contain_text("Too many failed sign-in attempts. Try again in")


def test_the_whole_page_stays_under_its_budget() -> None:
    """Issue 10: everything the page can load (HTML, scripts, styles, icons) under 250 KB before compression."""
    static = Path(artboard.web.__file__).parent / "static"
    sizes = {file.relative_to(static).as_posix(): file.stat().st_size for file in static.rglob("*") if file.is_file()}
    assert sum(sizes.values()) < 250_000, sizes

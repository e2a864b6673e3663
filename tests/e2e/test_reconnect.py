"""The server restarts mid-job: the page reconnects, catches up from its last event, and the card ends done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.e2e.conftest import Studio, Watched, shot, sign_up, start_studio
from tests.support import unique_email


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    """No worker at first: a job stays queued until the restarted server, with its worker, runs it."""
    yield from start_studio(tmp_path_factory, "--no-worker")


def test_a_job_queued_before_a_restart_ends_done_after_the_page_reconnects(
    studio: Studio, open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    watched = open_page()
    watched.tolerate("ERR_CONNECTION_REFUSED")
    page = watched.page
    sign_up(page, unique_email("restart"))
    photo = tmp_path / "flower.jpg"
    photo.write_bytes(photos.flower())
    page.locator("#file-picker").set_input_files(str(photo))
    expect(page.locator(".upload-status")).to_have_text("Uploaded")
    page.locator("label.style", has_text="Charcoal").click()
    page.get_by_role("button", name="Make sketch").click()
    card = page.locator("article.job").first
    expect(card).to_have_attribute("data-status", "queued")

    studio.stop()
    expect(page.locator("#connection")).to_have_text("Connection lost. Reconnecting to the server…")
    shot(page, "90-reconnecting")
    studio.start()

    expect(card).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator("#connection")).to_be_hidden()
    assert card.get_attribute("data-seen") == "queued running succeeded"

    page.reload()
    expect(page.locator("article.job").first).to_have_attribute("data-status", "succeeded")

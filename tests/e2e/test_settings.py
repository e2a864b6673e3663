"""The model form, settings and admin views in a real browser: a catalog model's form built from its schema and
prefilled from saved preferences; the key vault's states; the GPU endpoint's one-time signing secret; spending
figures; sign out everywhere; an admin managing users."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, Studio, Watched, audit, shot, sign_up
from tests.support import unique_email

NO_KEY = (
    "This model runs with your FAL key: store it with POST /api/custom/tokens/setup, open a key session with "
    "POST /api/custom/auth/create-session and send its session_id as X-Session-ID."
)


@pytest.fixture(scope="module")
def admin_email(studio: Studio) -> str:
    """The first admin, made with the link `artboard serve` printed, as a program would."""
    email = unique_email("admin")
    token = studio.first_run_link().split("first-run=")[1]
    made = httpx.post(f"{studio.url}/api/admin/first-run", json={"token": token, "email": email, "password": PASSWORD})
    assert made.status_code == 201, made.text
    return email


def sign_in(page: Page, email: str) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator("#drop-zone").wait_for()


def open_settings(page: Page) -> None:
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Provider keys")).to_be_visible()


def test_the_model_form_is_built_from_the_schema_and_prefilled_from_saved_preferences(
    open_page: Callable[..., Watched],
) -> None:
    page = open_page().page
    sign_up(page, unique_email("models"))
    saved = {"prompt": "a red fox at dusk", "image_size": "landscape_4_3", "num_images": 2}
    body = {"model_name": "flux/schnell", "preferences": saved}
    answer = page.request.post("/api/custom/preferences/save", data=body)  # as any client saves them
    assert answer.ok, answer.text()

    page.get_by_role("tab", name="Model").click()
    page.locator("#model-select").select_option("flux/schnell")
    form = page.locator("#model-form")
    expected = [  # (label, value): saved preferences first, then the schema's defaults
        ("Prompt (required)", "a red fox at dusk"),
        ("Image size", "landscape_4_3"),
        ("Num images", "2"),
        ("Seed", ""),
    ]
    for label, value in expected:
        expect(form.get_by_label(label, exact=True)).to_have_value(value)
    expect(form.get_by_label("Enable safety checker")).to_be_checked()
    expect(form.get_by_label("Num images")).to_have_attribute("max", "4")
    expect(form.get_by_label("Image size").locator("option")).to_have_count(6)
    audit(page, "model form")

    form.get_by_role("button", name="Run").click()
    expect(form.locator(".error")).to_have_text(NO_KEY)
    shot(page, "83-model-form-no-key")


def test_settings_show_zero_spending_and_take_the_vault_through_setup_unlock_and_lock(
    open_page: Callable[..., Watched],
) -> None:
    page = open_page().page
    sign_up(page, unique_email("vault"))
    open_settings(page)
    spending = {"Total spent": "$0.00", "Last 30 days": "$0.00", "Images paid for": "0", "Average per image": "$0.00"}
    expect(page.locator("#spending dt")).to_have_text(list(spending))
    expect(page.locator("#spending dd")).to_have_text(list(spending.values()))

    status = page.locator(".vault-status")
    expect(status).to_have_text("No provider keys stored yet.")
    page.get_by_text("Store your keys").click()
    setup = page.locator("form", has=page.get_by_role("button", name="Store keys"))
    setup.get_by_label("FAL key").fill("fal-test-key")
    setup.get_by_label("Vault password").fill("vault password")
    setup.get_by_role("button", name="Store keys").click()
    expect(status).to_have_text("Your keys are stored and locked.")

    unlock = page.locator("form", has=page.get_by_role("button", name="Unlock"))
    unlock.get_by_label("Vault password").fill("vault password")
    unlock.get_by_role("button", name="Unlock").click()
    expect(status).to_have_text("Your keys are unlocked for this browser.")
    audit(page, "settings, keys unlocked")
    shot(page, "84-vault-unlocked")

    page.get_by_role("button", name="Lock", exact=True).click()
    expect(status).to_have_text("Your keys are stored and locked.")


def test_saving_a_gpu_endpoint_shows_its_signing_secret_once(open_page: Callable[..., Watched]) -> None:
    page = open_page().page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_up(page, unique_email("gpu"))
    open_settings(page)
    page.get_by_label("Your GPU server").fill("https://gpu.example.com")
    page.get_by_role("button", name="Save endpoint").click()
    secret = page.locator("#signing-secret")
    expect(secret).to_have_text(re.compile(r"^absec_\S{20,}$"))
    expect(page.locator(".secret")).to_contain_text("shown only now")
    audit(page, "settings, signing secret")
    shot(page, "85-gpu-secret")
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_text("Signing secret copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret.text_content()

    page.get_by_role("link", name="Gallery").click()
    open_settings(page)
    expect(page.get_by_label("Your GPU server")).to_have_value("https://gpu.example.com/")
    expect(page.locator("#signing-secret")).to_have_count(0)


def test_sign_out_everywhere_ends_this_and_every_other_devices_session(open_page: Callable[..., Watched]) -> None:
    email = unique_email("everywhere")
    laptop, phone = open_page().page, open_page().page
    sign_up(laptop, email)
    sign_in(phone, email)

    open_settings(laptop)
    expect(laptop.get_by_text("change your password: that ends every other session")).to_have_count(0)
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop.get_by_role("heading", name="Sign in to Artboard")).to_be_visible()
    expect(laptop.get_by_text("You are signed out on every device.")).to_be_visible()

    phone.get_by_role("link", name="Gallery").click()
    expect(phone.get_by_role("heading", name="Sign in to Artboard")).to_be_visible()
    expect(phone.get_by_text("Your session ended. Sign in again.")).to_be_visible()


def test_an_admin_sees_the_users_and_makes_one_an_admin_then_disables_them(
    studio: Studio, open_page: Callable[..., Watched], admin_email: str
) -> None:
    member = unique_email("member")
    assert httpx.post(f"{studio.url}/api/auth/register", json={"email": member, "password": PASSWORD}).is_success
    page = open_page().page
    sign_in(page, admin_email)
    page.get_by_role("link", name="Admin").click()
    row = page.locator("tr", has_text=member)
    expect(row.locator("td")).to_have_text([re.compile(member), "user", "active", "Make adminDisable"])
    expect(page.locator("tr", has_text=admin_email).get_by_role("button", name="Disable")).to_be_disabled()

    row.get_by_role("button", name="Make admin").click()
    expect(row.locator("td").nth(1)).to_have_text("admin")
    row.get_by_role("button", name="Disable").click()
    expect(row.locator("td").nth(2)).to_have_text("disabled")
    shot(page, "86-admin-users")
    refused = httpx.post(f"{studio.url}/api/auth/login", json={"email": member, "password": PASSWORD})
    assert refused.status_code == 403, refused.text

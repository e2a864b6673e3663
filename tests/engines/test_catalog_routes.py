"""Seed 001's model list and status, over the model catalog: every model with the parameter schema that checks
its requests, and the vault's live key session counts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from artboard.engines.catalog import build_catalog
from artboard.engines.sketch import METHODS, STYLES
from artboard.engines.sketch_engine import model_name
from tests.support import Account, LiveServer, assert_envelope


def test_every_catalog_model_is_listed_with_its_parameter_schema(
    server: LiveServer, client: httpx.Client, account: Account
) -> None:
    response = client.get("/api/custom/generate/models", headers=account.headers)
    assert response.status_code == 200, response.text
    listed = response.json()
    catalog = build_catalog(server.settings)
    assert list(listed) == [model.name for model in catalog.models]
    assert set(listed) >= {model_name(style.name) for style in STYLES}  # the seven sketch models, at least
    for model in catalog.models:
        assert listed[model.name] == {
            "name": model.name,
            "display_name": model.display_name,
            "description": model.description,
            "engine": model.engine,
            "cost_per_image": model.cost_per_image,
            "needs_source": model.needs_source,
            "parameters": model.schema(),
        }


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ("method", {"type": "string", "default": "basic", "options": [m.name for m in METHODS]}),
        ("strength", {"type": "number", "default": 1.0, "min": 0, "max": 1}),
        ("prompt", {"type": "string"}),
        ("prompt_guidance", {"type": "number", "min": 0, "max": 100}),
    ],
)
def test_a_parameter_shows_its_type_default_and_options_or_range(
    client: httpx.Client, account: Account, parameter: str, expected: dict[str, Any]
) -> None:
    """Keys that do not apply to a parameter are left out, as in seed 001's listing."""
    shown = client.get("/api/custom/generate/models", headers=account.headers).json()["sketch:pencil"]["parameters"]
    assert {key: value for key, value in shown[parameter].items() if key != "description"} == expected
    assert shown[parameter]["description"]


def test_the_model_list_needs_a_sign_in(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/custom/generate/models"), 401, "authentication_error")


def test_status_in_seed_001s_shape_needs_no_sign_in(server: LiveServer, client: httpx.Client) -> None:
    response = client.get("/api/custom/status")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["services"]["encryption"] == "AES-256-GCM with PBKDF2"
    assert set(body["services"]["sessions"]) == {"active", "total"}
    assert body["available_models"] == {
        model.name: {"name": model.name, "display_name": model.display_name, "cost_per_image": model.cost_per_image}
        for model in build_catalog(server.settings).models
    }


def test_status_counts_key_sessions_live(client: httpx.Client, account: Account) -> None:
    def counts() -> dict[str, int]:
        sessions: dict[str, int] = client.get("/api/custom/status").json()["services"]["sessions"]
        return sessions

    before = counts()
    client.post(
        "/api/custom/tokens/setup", json={"fal_token": "fal-key", "password": "vault password"}, headers=account.headers
    )
    opened = client.post(
        "/api/custom/auth/create-session", json={"password": "vault password"}, headers=account.headers
    )
    assert counts() == {"active": before["active"] + 1, "total": before["total"] + 1}
    client.delete("/api/custom/auth/session", headers={**account.headers, "X-Session-ID": opened.json()["session_id"]})
    assert counts() == before

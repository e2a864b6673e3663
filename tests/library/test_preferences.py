"""Seed 001 preferences: saved per user and model."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support import Account, assert_envelope, register_and_login


def test_save_then_get(client: httpx.Client, account: Account) -> None:
    empty = client.post("/api/custom/preferences/get", json={"model_name": "flux/schnell"}, headers=account.headers)
    assert empty.json() == {"model_name": "flux/schnell", "has_preferences": False, "preferences": {}}
    prefs = {"image_size": "square_hd", "guidance_scale": 7.5, "num_inference_steps": 4}
    saved = client.post(
        "/api/custom/preferences/save",
        json={"model_name": "flux/schnell", "preferences": prefs},
        headers=account.headers,
    )
    assert saved.json() == {"success": True, "message": "Preferences saved successfully"}
    got = client.post("/api/custom/preferences/get", json={"model_name": "flux/schnell"}, headers=account.headers)
    assert got.json() == {"model_name": "flux/schnell", "has_preferences": True, "preferences": prefs}
    replaced = {"image_size": "square"}
    client.post(
        "/api/custom/preferences/save",
        json={"model_name": "flux/schnell", "preferences": replaced},
        headers=account.headers,
    )
    again = client.post("/api/custom/preferences/get", json={"model_name": "flux/schnell"}, headers=account.headers)
    assert again.json()["preferences"] == replaced


def test_preferences_are_per_user(client: httpx.Client, account: Account) -> None:
    client.post(
        "/api/custom/preferences/save", json={"model_name": "m", "preferences": {"a": 1}}, headers=account.headers
    )
    other = register_and_login(client)
    got = client.post("/api/custom/preferences/get", json={"model_name": "m"}, headers=other.headers)
    assert got.json()["has_preferences"] is False


def test_bad_bodies_are_refused(client: httpx.Client, account: Account) -> None:
    for body in ({}, {"model_name": ""}, {"model_name": "m", "preferences": [1, 2]}, {"model_name": "m"}):
        response = client.post("/api/custom/preferences/save", json=body, headers=account.headers)
        assert_envelope(response, 422, "validation_error")


def test_saves_at_the_same_moment_all_succeed_and_one_of_them_is_kept(client: httpx.Client, account: Account) -> None:
    model = f"race-{account.email}"  # a model this user never saved before: every save may be the first
    choices = [{"n": n} for n in range(8)]

    def save(preferences: dict[str, int]) -> int:
        body = {"model_name": model, "preferences": preferences}
        return client.post("/api/custom/preferences/save", json=body, headers=account.headers).status_code

    with ThreadPoolExecutor(len(choices)) as pool:
        statuses = list(pool.map(save, choices))
    assert statuses == [200] * len(choices)
    got = client.post("/api/custom/preferences/get", json={"model_name": model}, headers=account.headers)
    assert got.json()["preferences"] in choices

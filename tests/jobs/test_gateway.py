"""Seed 000's gateway over HTTP: `send_message` queues a job of any catalog model on one of the user's images and
answers its `message_id`; `get_image` answers "Message not ready yet" (202) until the image is made, then its
bytes, or the job's error once it failed; other users find nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from artboard.engines.base import EngineError
from tests import photos
from tests.jobs.held_engine import HeldEngine, poll, upload
from tests.support import Account, assert_envelope, register_and_login

STYLES = ["pencil", "charcoal", "watercolor", "ink", "pastel", "oil", "acrylic"]
METHODS = ["basic", "advanced", "artistic"]
NOT_READY = "Message not ready yet"


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldEngine]:
    engine = HeldEngine()
    engine.install(monkeypatch)
    yield engine
    engine.release.set()


def send(client: httpx.Client, account: Account, **fields: Any) -> httpx.Response:
    return client.post("/api/send_message", json=fields, headers=account.headers)


def message(client: httpx.Client, account: Account, image_id: str, model_type: str, **fields: Any) -> str:
    body = {"prompt": "a sketch", "prompt_guidance": 7.5, "strength": 1, "uuid": image_id, "model_type": model_type}
    response = send(client, account, **{**body, **fields})
    assert response.status_code == 202, response.text
    assert set(response.json()) == {"message_id"}
    message_id: str = response.json()["message_id"]
    return message_id


def get_image(client: httpx.Client, account: Account, message_id: str, how: str = "GET") -> httpx.Response:
    if how == "GET":
        return client.get("/api/get_image", params={"message_id": message_id}, headers=account.headers)
    return client.post("/api/get_image", json={"message_id": message_id}, headers=account.headers)


def image_when_ready(client: httpx.Client, account: Account, message_id: str) -> httpx.Response:
    response = poll(lambda: get_image(client, account, message_id), lambda reply: reply.status_code != 202)
    assert response.status_code == 200, response.text
    return response


def test_every_style_and_method_gives_an_image_of_the_photos_size_and_styles_differ(
    client: httpx.Client, account: Account
) -> None:
    source = upload(client, account)["id"]
    ids = {
        (style, method): message(client, account, source, f"sketch:{style}:{method}")
        for style, method in itertools.product(STYLES, METHODS)
    }
    drawings = {}
    for (style, method), message_id in ids.items():
        reply = image_when_ready(client, account, message_id)
        assert reply.headers["content-type"] == "image/jpeg", (style, method)
        image = photos.decode(reply.content)
        assert (image.format, image.size) == ("JPEG", (480, 360)), (style, method)
        drawings[style, method] = np.asarray(image.convert("RGB"), dtype=np.int16)
    for method in METHODS:
        for one, other in itertools.combinations(STYLES, 2):
            difference = np.abs(drawings[one, method] - drawings[other, method]).mean()
            assert difference > 5, (one, other, method, difference)


def test_the_message_is_kept_with_the_job_and_the_images_lineage(client: httpx.Client, account: Account) -> None:
    source = upload(client, account)["id"]
    message_id = message(
        client, account, source, "Sketch:Ink:Artistic", prompt="a cat in ink", prompt_guidance="7.5", strength="0.5"
    )
    image_when_ready(client, account, message_id)
    job = client.get(f"/api/jobs/{message_id}", headers=account.headers).json()
    parameters = {"method": "artistic", "strength": 0.5, "prompt": "a cat in ink", "prompt_guidance": 7.5}
    assert job["model"] == "sketch:ink" and job["input"] == {"parameters": parameters, "image_id": source}
    (output,) = job["result"]["images"]
    lineage = client.get(f"/api/images/{output}", headers=account.headers).json()["lineage"]
    assert lineage["parameters"] == parameters and lineage["source_image_id"] == source


def test_a_model_without_a_method_draws_with_the_default_one(client: httpx.Client, account: Account) -> None:
    source = upload(client, account)["id"]
    plain = image_when_ready(client, account, message(client, account, source, "sketch:oil")).content
    basic = image_when_ready(client, account, message(client, account, source, "sketch:oil:basic")).content
    assert plain == basic


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"strength": 1.5}, "strength"),
        ({"strength": -0.1}, "strength"),
        ({"strength": "strong"}, "strength"),
        ({"prompt_guidance": "lots"}, "prompt_guidance"),
        ({"prompt_guidance": -1}, "prompt_guidance"),
        ({"model_type": "dall-e"}, "model_type"),
        ({"model_type": "sketch:crayon"}, "model_type"),
        ({"model_type": "sketch:pencil:fancy"}, "model_type"),
        ({"model_type": None}, "model_type"),
        ({"uuid": "not-an-image-id"}, "uuid"),
        ({"uuid": None}, "uuid"),
    ],
)
def test_a_refused_field_is_named(client: httpx.Client, account: Account, fields: dict[str, Any], field: str) -> None:
    source = upload(client, account)["id"]
    body = {"prompt": "p", "prompt_guidance": 7, "strength": 0.5, "uuid": source, "model_type": "sketch:pencil"}
    error = assert_envelope(send(client, account, **{**body, **fields}), 422, "validation_error")
    assert error["detail"][0]["field"] == field, error


@pytest.mark.parametrize("how", ["GET", "POST"])
def test_until_the_image_is_made_the_reply_is_the_string_message_not_ready_yet(
    client: httpx.Client, account: Account, held: HeldEngine, how: str
) -> None:
    message_id = message(client, account, upload(client, account)["id"], "sketch:pencil")
    waiting = get_image(client, account, message_id, how)
    assert waiting.status_code == 202
    assert waiting.headers["content-type"] == "application/json" and waiting.text == f'"{NOT_READY}"'
    held.release.set()
    done = poll(lambda: get_image(client, account, message_id, how), lambda reply: reply.status_code != 202)
    assert done.status_code == 200 and photos.decode(done.content).size == (480, 360)


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [("fails", "failed", "invalid_source"), ("is canceled", "canceled", "canceled")],
)
def test_a_job_that_ended_without_an_image_answers_its_error(
    client: httpx.Client, account: Account, held: HeldEngine, outcome: str, status: str, code: str
) -> None:
    message_id = message(client, account, upload(client, account)["id"], "sketch:pencil")
    if outcome == "fails":
        held.failure = EngineError("invalid_source", "The source image could not be drawn.")
        held.release.set()
    else:  # held until the cancel reaches it: it stops without drawing
        assert client.post(f"/api/jobs/{message_id}/cancel", headers=account.headers).status_code == 200
    ended = poll(lambda: get_image(client, account, message_id), lambda reply: reply.status_code != 202)
    error = assert_envelope(ended, 409, "conflict")
    assert error["detail"]["status"] == status and error["detail"]["error"]["code"] == code


def test_another_users_message_and_image_are_not_found(client: httpx.Client, account: Account) -> None:
    source = upload(client, account)["id"]
    message_id = message(client, account, source, "sketch:ink")
    image_when_ready(client, account, message_id)
    stranger = register_and_login(client)
    for how in ("GET", "POST"):
        assert_envelope(get_image(client, stranger, message_id, how), 404, "not_found")
    body = {"prompt": "p", "prompt_guidance": 7, "strength": 1, "uuid": source, "model_type": "sketch:ink"}
    assert_envelope(send(client, stranger, **body), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/send_message"), ("POST", "/api/get_image"), ("GET", "/api/get_image?message_id=aaaaaaaaaaaaaaa")],
)
def test_the_gateway_needs_a_sign_in(client: httpx.Client, method: str, path: str) -> None:
    assert_envelope(client.request(method, path, json={"message_id": "aaaaaaaaaaaaaaa"}), 401, "authentication_error")

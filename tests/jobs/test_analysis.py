"""Seed 003's `POST /api/images/analyze-image` over HTTP, against a local OpenAI through the official SDK: the
upload joins the gallery with its thumbnail, OpenAI describes it with the user's key (a key session) or the
operator's, and the answer is kept with the image; OpenAI's refusals come back inside a 200 as the seed did,
its failures as seed 003's 500; no key is 401, a file that is not an image 400; other users find nothing."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from artboard.engines.openai_vision import DEFAULT_PROMPT
from tests import photos
from tests.fakes.openai_server import DESCRIPTION, FakeOpenAI, fake_openai, rate_limited, server_error
from tests.support import (
    Account,
    LiveServer,
    assert_envelope,
    free_port,
    live_server,
    live_server_on,
    register_and_login,
)

OPERATOR_KEY = "sk-operator-0123456789abcdef"
USER_KEY = "sk-user-fedcba9876543210"
VAULT_PASSWORD = "my vault password"
ROUTE = "/api/images/analyze-image"
THUMBNAIL = re.compile(r"/api/thumbnails/thumbnail_(\w+)\.jpg")
# Two attempts per job: a failing OpenAI is asked 2 x (1 + the SDK's 2 retries) times before the route gives up.
JOB_ATTEMPTS = 2


@pytest.fixture(scope="module")
def openai() -> Iterator[FakeOpenAI]:
    with fake_openai(OPERATOR_KEY, USER_KEY) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_openai(openai: FakeOpenAI) -> None:
    openai.reset()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, openai: FakeOpenAI
) -> Iterator[LiveServer]:
    """Artboard with the operator's OpenAI key, talking to the local OpenAI."""
    with live_server_on(
        request.param,
        tmp_path_factory.mktemp("analysis"),
        openai_base_url=f"{openai.url}/v1",
        openai_api_key=OPERATOR_KEY,
        job_max_attempts=JOB_ATTEMPTS,
        vault_kdf_iterations=100_000,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Artboard with no operator key, whose OpenAI address answers nothing."""
    with live_server(
        tmp_path_factory.mktemp("keyless"),
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        openai_api_key=None,
        job_max_attempts=1,
        vault_kdf_iterations=100_000,
    ) as running:
        yield running


def analyze(
    client: httpx.Client,
    account: Account,
    data: bytes | None = None,
    *,
    filename: str = "flower.jpg",
    content_type: str = "image/jpeg",
    session_id: str | None = None,
) -> httpx.Response:
    headers = {**account.headers, **({"X-Session-ID": session_id} if session_id else {})}
    upload = {"uploaded_file": (filename, photos.flower() if data is None else data, content_type)}
    return client.post(ROUTE, files=upload, headers=headers, timeout=60)


def key_session(client: httpx.Client, account: Account, openai_key: str) -> str:
    """Store the user's keys in their vault and open a key session; its id for `X-Session-ID`."""
    keys = {"fal_token": "fal-key:secret", "openai_token": openai_key, "password": VAULT_PASSWORD}
    stored = client.post("/api/custom/tokens/setup", json=keys, headers=account.headers)
    assert stored.status_code == 200, stored.text
    opened = client.post("/api/custom/auth/create-session", json={"password": VAULT_PASSWORD}, headers=account.headers)
    assert opened.status_code == 200, opened.text
    session_id: str = opened.json()["session_id"]
    return session_id


def image_id_of(reply: dict[str, Any]) -> str:
    match = THUMBNAIL.fullmatch(reply["thumbnail"])
    assert match is not None, reply["thumbnail"]
    assert match.group(1) == reply["image_id"]
    return match.group(1)


def test_an_upload_joins_the_gallery_and_is_described_with_the_operators_key(
    client: httpx.Client, account: Account, server: LiveServer, openai: FakeOpenAI
) -> None:
    response = analyze(client, account)

    assert response.status_code == 200, response.text
    reply = response.json()
    assert set(reply) == {"message", "thumbnail", "openai_response", "image_id"}
    assert reply["message"] == "Image uploaded successfully"

    # OpenAI was asked once, with the operator's key, the configured model, the seed's question and the photo,
    # and its ChatCompletion is answered as it sent it.
    [asked] = openai.requests
    completion = reply["openai_response"]
    assert completion == asked.answer
    assert completion["choices"][0]["message"]["content"] == DESCRIPTION
    assert asked.key == OPERATOR_KEY
    assert asked.body["model"] == server.settings.openai_model
    question = asked.body["messages"][0]["content"][0]
    assert question == {"type": "text", "text": DEFAULT_PROMPT}
    assert asked.image_url == "data:image/jpeg;base64," + base64.b64encode(photos.flower()).decode()
    assert asked.body["messages"][0]["content"][1]["image_url"]["detail"] == "auto"

    # The thumbnail path is one the seed's thumbnail route serves: a 128 px picture of the upload.
    thumbnail = client.get(reply["thumbnail"], headers=account.headers)
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert max(photos.decode(thumbnail.content).size) == 128

    # The image is in the gallery, with OpenAI's answer kept beside it.
    image = client.get(f"/api/images/{image_id_of(reply)}", headers=account.headers).json()
    assert (image["source"], image["title"], image["width"], image["height"]) == ("analysis", "flower.jpg", 480, 360)
    assert image["metadata"] == {"openai_response": completion}
    square = client.get(f"/api/images/{image['id']}/file?variant=square", headers=account.headers)
    assert photos.decode(square.content).size == (512, 512)


def test_a_key_session_pays_with_the_users_own_openai_key(
    client: httpx.Client, account: Account, openai: FakeOpenAI
) -> None:
    session_id = key_session(client, account, USER_KEY)

    response = analyze(client, account, session_id=session_id)

    assert response.status_code == 200, response.text
    assert response.json()["openai_response"]["choices"][0]["message"]["content"] == DESCRIPTION
    assert [asked.key for asked in openai.requests] == [USER_KEY]


def test_a_key_openai_refuses_comes_back_inside_a_200_as_seed_003_did(
    client: httpx.Client, account: Account, openai: FakeOpenAI
) -> None:
    session_id = key_session(client, account, "sk-wrong-key-000000")

    response = analyze(client, account, session_id=session_id)

    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["message"] == "Image uploaded successfully"
    assert reply["openai_response"] == {
        "error": {
            "message": "Incorrect API key provided: sk-************0000. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    assert len(openai.requests) == 1  # a refusal is final: neither the SDK nor the job asks again
    image = client.get(f"/api/images/{image_id_of(reply)}", headers=account.headers).json()
    assert image["metadata"] == {"openai_response": reply["openai_response"]}
    [job] = client.get("/api/jobs", params={"kind": "analysis"}, headers=account.headers).json()["items"]
    assert job["status"] == "failed"
    assert "OpenAI refused the request (401)" in job["error"]["message"]


@pytest.mark.parametrize(
    ("script", "requests_made", "status"),
    [
        pytest.param([rate_limited(retry_after_s=1)], 2, 200, id="429 with Retry-After: the SDK waits, then succeeds"),
        pytest.param([server_error()] * 2, 3, 200, id="two 500s: the SDK's retries succeed"),
        pytest.param([server_error()] * 6, 3 * JOB_ATTEMPTS, 500, id="500 after every retry: 500 external_error"),
    ],
)
def test_openai_failures_are_retried_then_answered_as_seed_003s_500(
    client: httpx.Client,
    account: Account,
    openai: FakeOpenAI,
    script: list[Any],
    requests_made: int,
    status: int,
) -> None:
    openai.reset(*script)

    response = analyze(client, account)

    assert len(openai.requests) == requests_made
    if status == 200:
        assert response.status_code == 200, response.text
        assert response.json()["openai_response"]["choices"][0]["message"]["content"] == DESCRIPTION
        return
    body = assert_envelope(response, 500, "external_error")
    assert "OpenAI failed (500)" in body["message"]
    # The upload itself was kept: the image is in the gallery, the failed job names it.
    image = client.get(f"/api/images/{body['detail']['image_id']}", headers=account.headers)
    assert image.status_code == 200 and image.json()["metadata"] == {}
    job = client.get(f"/api/jobs/{body['detail']['job_id']}", headers=account.headers).json()
    assert (job["status"], job["attempts"]) == ("failed", JOB_ATTEMPTS)


def test_retry_after_is_honoured_between_the_sdks_attempts(
    client: httpx.Client, account: Account, openai: FakeOpenAI
) -> None:
    openai.reset(rate_limited(retry_after_s=1))

    assert analyze(client, account).status_code == 200

    first, second = openai.requests
    assert second.at - first.at >= 0.9  # the SDK's own first backoff is at most 0.5 s


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "message"),
    [
        pytest.param(b"#!/bin/sh\necho hi\n", "flower.jpg", "image/jpeg", "not an image", id="a script named .jpg"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3", "photo.png", "image/png", "not an image", id="a PDF named .png"),
        pytest.param(photos.truncated_jpeg, "cut.jpg", "image/jpeg", "", id="a truncated JPEG"),
        pytest.param(b"", "empty.jpg", "image/jpeg", "empty", id="an empty file"),
    ],
)
def test_a_file_that_is_not_an_accepted_image_is_refused_with_400_before_openai_is_asked(
    client: httpx.Client,
    account: Account,
    openai: FakeOpenAI,
    data: Any,
    filename: str,
    content_type: str,
    message: str,
) -> None:
    response = analyze(
        client, account, data() if callable(data) else data, filename=filename, content_type=content_type
    )

    body = assert_envelope(response, 400, "validation_error")
    assert message in body["message"]
    assert openai.requests == []
    assert client.get("/api/images", headers=account.headers).json()["items"] == []


def test_a_form_without_uploaded_file_is_refused_with_400(client: httpx.Client, account: Account) -> None:
    response = client.post(ROUTE, files={"file": ("flower.jpg", photos.flower())}, headers=account.headers)

    assert assert_envelope(response, 400, "validation_error")["message"] == "The form has no `uploaded_file` field."


def test_without_a_sign_in_nothing_is_stored_or_asked(client: httpx.Client, openai: FakeOpenAI) -> None:
    response = client.post(ROUTE, files={"uploaded_file": ("flower.jpg", photos.flower())})

    assert_envelope(response, 401, "authentication_error")
    assert openai.requests == []


def test_an_analysis_is_its_owners_alone(client: httpx.Client, account: Account) -> None:
    reply = analyze(client, account).json()
    image_id = image_id_of(reply)
    other = register_and_login(client, "other")

    assert client.get(f"/api/images/{image_id}", headers=other.headers).status_code == 404
    assert client.get(reply["thumbnail"], headers=other.headers).status_code == 404
    assert client.get("/api/images", headers=other.headers).json()["items"] == []
    assert client.get("/api/jobs", headers=other.headers).json()["items"] == []


def test_with_no_key_at_all_the_answer_is_401_and_nothing_is_kept(keyless: LiveServer) -> None:
    with httpx.Client(base_url=keyless.url, timeout=30) as client:
        account = register_and_login(client)

        response = analyze(client, account)

        body = assert_envelope(response, 401, "authentication_error")
        assert "OpenAI key" in body["message"] and "X-Session-ID" in body["message"]
        assert client.get("/api/images", headers=account.headers).json()["items"] == []


def test_an_openai_that_cannot_be_reached_is_seed_003s_500(keyless: LiveServer) -> None:
    with httpx.Client(base_url=keyless.url, timeout=60) as client:
        account = register_and_login(client)
        session_id = key_session(client, account, USER_KEY)

        response = analyze(client, account, session_id=session_id)

        body = assert_envelope(response, 500, "external_error")
        assert "OpenAI could not be reached" in body["message"]
        assert client.get(f"/api/images/{body['detail']['image_id']}", headers=account.headers).status_code == 200

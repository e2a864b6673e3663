"""FAL generation against a local server that speaks FAL's queue protocol: seed 001's `POST
/api/custom/generate/image` end to end (queue positions and progress on the job's events, images copied into
the gallery with prompt, model, request id and cost), the user's own key from a key session or the
operator's, FAL's refusals as `external_error` with FAL's words, FAL's deadline, cancel, and a slow CDN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.fal_server import FakeFal, fake_fal
from tests.jobs.deployments import deployment, finished
from tests.jobs.held_engine import eventually, poll
from tests.jobs.test_events import until_live, websocket
from tests.support import Account, LiveServer, assert_envelope, live_server, register_and_login, run_sql

VAULT_PASSWORD = "my vault password"
USER_KEY = "fal-user-own-key"


@pytest.fixture(scope="module")
def fal() -> Iterator[FakeFal]:
    with fake_fal() as running:
        yield running


@pytest.fixture(scope="module")
def server(fal: FakeFal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """An Artboard whose operator set a FAL key, with FAL's deadline short enough to reach in a test."""
    with live_server(
        tmp_path_factory.mktemp("fal"),
        fal_base_url=fal.url,
        fal_key=fal.key,
        fal_timeout_s=3,
        vault_kdf_iterations=100_000,
    ) as running:
        yield running


@pytest.fixture
def http(server: LiveServer, fal: FakeFal) -> Iterator[httpx.Client]:
    fal.reset()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def user(http: httpx.Client) -> Account:
    return register_and_login(http)


def generate(http: httpx.Client, account: Account, **extra: Any) -> httpx.Response:
    body = {"model": "flux/schnell", "prompt": "A beautiful sunset over mountains", **extra}
    return http.post("/api/custom/generate/image", json=body, headers=account.headers)


def test_generation_lands_in_the_gallery_with_its_cost(http: httpx.Client, user: Account, fal: FakeFal) -> None:
    folder = http.post("/api/folders", json={"name": "Sunsets"}, headers=user.headers).json()
    response = generate(http, user, parameters={"num_images": 2, "image_size": "square"}, collection_id=folder["id"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "flux/schnell" and body["cost"] == pytest.approx(0.006)
    assert len(body["images"]) == 2
    (request,) = fal.submits
    assert request.app == "fal-ai/flux/schnell" and request.key == fal.key
    assert request.body == {
        "prompt": "A beautiful sunset over mountains",
        "num_images": 2,
        "image_size": "square",
        "enable_safety_checker": True,
    }
    for image in body["images"]:
        assert image["url"].startswith(http.base_url.__str__().rstrip("/"))
        stored = http.get(f"/api/images/{image['id']}", headers=user.headers).json()
        assert stored["folder_id"] == folder["id"]
        assert (stored["width"], stored["height"]) == (1024, 1024)
        assert stored["metadata"]["prompt"] == "A beautiful sunset over mountains"
        assert stored["metadata"]["request_id"] == request.id
        assert stored["lineage"]["model"] == "flux/schnell"
        assert stored["lineage"]["cost"] == pytest.approx(0.003)
        assert http.get(image["thumbnail_url"], headers=user.headers).status_code == 200
        assert http.get(image["url"], headers=user.headers).content[:2] == b"\xff\xd8"


def test_the_job_shows_fal_queue_position_and_progress(http: httpx.Client, server: LiveServer, user: Account) -> None:
    assert generate(http, user).status_code == 200
    with websocket(server, user, since=0) as items:
        messages = [event["job"]["message"] for event in until_live(items)]
    assert "In FAL's queue at position 2" in messages
    assert "In FAL's queue at position 1" in messages
    assert "FAL is generating" in messages
    assert messages[-1] == "Done."


def test_the_charge_is_in_the_ledger_once(http: httpx.Client, server: LiveServer, user: Account) -> None:
    job_id = generate(http, user, model="hidream/hidream-i1-dev").json()["job_id"]

    rows = run_sql(
        server, "SELECT provider, model, units, unit_price, amount FROM cost_entries WHERE job_id = :j", j=job_id
    )
    assert rows == [("fal", "hidream/hidream-i1-dev", 1, pytest.approx(0.004), pytest.approx(0.004))]
    assert run_sql(server, "SELECT sealed_key FROM jobs WHERE id = :j", j=job_id) == [(None,)]


def test_the_users_own_key_from_a_key_session_comes_first(http: httpx.Client, user: Account, fal: FakeFal) -> None:
    setup = http.post(
        "/api/custom/tokens/setup", json={"fal_token": USER_KEY, "password": VAULT_PASSWORD}, headers=user.headers
    )
    assert setup.status_code == 200, setup.text
    session = http.post("/api/custom/auth/create-session", json={"password": VAULT_PASSWORD}, headers=user.headers)
    fal.key = USER_KEY

    response = http.post(
        "/api/custom/generate/image",
        json={"model": "flux/schnell", "prompt": "a fox"},
        headers={**user.headers, "X-Session-ID": session.json()["session_id"]},
    )

    assert response.status_code == 200, response.text
    assert [request.key for request in fal.submits] == [USER_KEY]


@pytest.mark.parametrize(
    ("outcome", "status", "code", "words"),
    [
        ("unauthorized", 502, "external_error", "FAL refused the key: Invalid authentication credentials"),
        ("invalid", 502, "external_error", "the prompt is too spicy"),
        ("model_error", 502, "external_error", "CUDA out of memory"),
        ("held", 502, "external_error", "FAL did not finish within 3 s"),
    ],
    ids=["401 from FAL", "422 from FAL", "model error", "FAL's deadline"],
)
def test_fal_failures_answer_in_falls_own_words(
    http: httpx.Client, user: Account, fal: FakeFal, outcome: str, status: int, code: str, words: str
) -> None:
    fal.outcome = outcome

    body = assert_envelope(generate(http, user), status, code)

    assert words in body["message"]
    job = http.get(f"/api/jobs/{body['detail']['job_id']}", headers=user.headers).json()
    assert job["status"] == "failed" and job["cost"] == 0
    if outcome == "held":
        assert [request.canceled for request in fal.submits] == [True]


def test_without_any_key_the_answer_says_how_to_get_one(tmp_path: Path, fal: FakeFal) -> None:
    fal.reset()
    with live_server(tmp_path, fal_base_url=fal.url) as keyless, httpx.Client(base_url=keyless.url) as http:
        account = register_and_login(http)
        body = assert_envelope(generate(http, account), 401, "authentication_error")
        stale = http.post(
            "/api/custom/generate/image",
            json={"model": "flux/schnell", "prompt": "x"},
            headers={**account.headers, "X-Session-ID": "no-such-session"},
        )
    assert "POST /api/custom/tokens/setup" in body["message"]
    assert "has ended" in assert_envelope(stale, 401, "authentication_error")["message"]
    assert fal.submits == []


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"num_images": 9}, "num_images"), ({"image_size": "huge"}, "image_size"), ({"steps": 4}, "steps")],
)
def test_parameters_are_checked_before_anything_is_paid(
    http: httpx.Client, user: Account, fal: FakeFal, parameters: dict[str, Any], field: str
) -> None:
    body = assert_envelope(generate(http, user, parameters=parameters), 400, "validation_error")
    assert field in body["message"]
    assert fal.submits == []


def test_a_canceled_job_asks_fal_to_cancel(http: httpx.Client, user: Account, fal: FakeFal) -> None:
    fal.outcome = "held"
    job = http.post(
        "/api/jobs", json={"model": "flux/schnell", "parameters": {"prompt": "a fox"}}, headers=user.headers
    ).json()
    assert eventually(lambda: bool(fal.submits and fal.submits[0].polls >= 3))

    http.post(f"/api/jobs/{job['id']}/cancel", headers=user.headers)

    ended = poll(
        lambda: http.get(f"/api/jobs/{job['id']}", headers=user.headers),
        lambda response: response.json()["status"] == "canceled",
    ).json()
    assert ended["status"] == "canceled" and ended["cost"] == 0
    assert [request.canceled for request in fal.submits] == [True]


def test_a_slow_cdn_is_waited_for(http: httpx.Client, user: Account, fal: FakeFal) -> None:
    fal.cdn_delay_s = 1.5
    response = generate(http, user)
    assert response.status_code == 200, response.text
    assert len(response.json()["images"]) == 1


def test_the_catalog_lists_seed_001s_models_and_prices(http: httpx.Client, user: Account) -> None:
    models = http.get("/api/custom/generate/models", headers=user.headers).json()
    prices = {name: models[name]["cost_per_image"] for name in models if models[name]["engine"] == "fal"}
    assert prices == {"flux/schnell": 0.003, "hidream/hidream-i1-dev": 0.004, "hidream/hidream-i1-fast": 0.003}
    assert models["flux/schnell"]["parameters"]["num_images"] == {
        "type": "integer",
        "description": "Number of images to generate.",
        "default": 1,
        "min": 1,
        "max": 4,
    }


def test_a_worker_killed_while_fal_works_resumes_the_same_request(tmp_path: Path, fal: FakeFal) -> None:
    """`kill -9` the worker after FAL accepted the request: the next worker polls that request id (the one
    saved on the job before waiting) and FAL sees exactly one submit, so the picture is paid for once."""
    fal.reset(outcome="held")
    env = {
        "ARTBOARD_FAL_BASE_URL": fal.url,
        "FAL_KEY": fal.key,
        "ARTBOARD_JOB_LEASE_S": "1.5",
        "ARTBOARD_RUN_WORKER": "false",
    }
    with deployment(tmp_path, **env) as artboard:
        url = artboard.serve("server")
        artboard.worker("first")
        with httpx.Client(base_url=url, timeout=30) as http:
            account = register_and_login(http)
            job = http.post(
                "/api/jobs", json={"model": "flux/schnell", "parameters": {"prompt": "a fox"}}, headers=account.headers
            ).json()
            assert eventually(lambda: bool(fal.submits and fal.submits[0].polls >= 3), within_s=30)
            (saved,) = artboard.sql("SELECT provider_state FROM jobs WHERE id = :id", id=job["id"])

            artboard.kill("first")
            artboard.worker("second")
            fal.release.set()
            ended = finished(http, account.headers, job["id"])

        assert ended["status"] == "succeeded", ended
        assert ended["attempts"] == 2
        (request,) = fal.submits
        assert request.id in str(saved[0])
        assert set(fal.status_polls) == {request.id}
        assert artboard.sql("SELECT COUNT(*) FROM cost_entries WHERE job_id = :id", id=job["id"]) == [(1,)]

"""A user's GPU endpoint is a URL the server will call: never its cloud's metadata, internal hosts only if allowed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import (
    PASSWORD,
    Account,
    LiveServer,
    assert_envelope,
    live_server,
    register_and_login,
    run_sql,
    unique_email,
)

ACCEPTED, REFUSED = True, False
ENDPOINTS = pytest.mark.parametrize(
    ("endpoint", "without_allowlist", "with_allowlist"),
    [
        ("https://gpu.example.com/v1", ACCEPTED, ACCEPTED),
        ("http://gpu.lan:7860/", ACCEPTED, ACCEPTED),
        ("http://169.254.169.254/latest/meta-data/", REFUSED, REFUSED),
        ("http://[fd00:ec2::254]/latest/meta-data/", REFUSED, REFUSED),
        ("http://metadata.google.internal/computeMetadata/v1/", REFUSED, REFUSED),
        ("http://2852039166/", REFUSED, REFUSED),
        ("http://good@169.254.169.254/", REFUSED, REFUSED),
        ("http://[::ffff:169.254.169.254]/", REFUSED, REFUSED),
        ("http://127.0.0.1:7860/", REFUSED, ACCEPTED),
        ("http://localhost:7860/", REFUSED, ACCEPTED),
        ("http://10.0.0.5:7860/", REFUSED, ACCEPTED),
        ("http://[::1]:7860/", REFUSED, ACCEPTED),
        ("http://192.168.1.20/", REFUSED, REFUSED),
    ],
)
# What an operator running the GPU servers next to Artboard might allow, and a try at link-local and AWS's fd00::.
ALLOWLIST = ["127.0.0.0/8", "::1", "10.0.0.0/8", "169.254.0.0/16", "fd00::/8"]
EARLIER = "https://earlier.example.com/"


@pytest.fixture(scope="module")
def allowing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server whose operator set ARTBOARD_GPU_ENDPOINT_ALLOWLIST."""
    data_dir: Path = tmp_path_factory.mktemp("data-allowlist")
    with (
        live_server(data_dir, gpu_endpoint_allowlist=ALLOWLIST) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield http


def check_both_routes(client: httpx.Client, endpoint: str, accepted: bool) -> None:
    """Registering with the endpoint and setting it later are judged alike; a refusal changes nothing."""
    account = register_and_login(client, gpu_endpoint=EARLIER)
    email = unique_email()
    registered = client.post("/auth/register", json={"email": email, "password": PASSWORD, "gpu_endpoint": endpoint})
    saved = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": endpoint}, headers=account.headers)
    if accepted:
        assert registered.status_code == 201, registered.text
        assert saved.status_code == 200, saved.text
        assert registered.json()["gpu_endpoint"] == saved.json()["gpu_endpoint"] == endpoint
        return
    for response in (registered, saved):
        body = assert_envelope(response, 400, "validation_error")
        assert body["message"].startswith("The GPU endpoint is refused: "), body
        assert body["detail"] == {"field": "gpu_endpoint"}
    assert client.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code == 201
    assert gpu_endpoint_of(client, account) == EARLIER


def gpu_endpoint_of(client: httpx.Client, account: Account) -> str | None:
    me = client.get("/api/auth/me", headers=account.headers)
    assert me.status_code == 200, me.text
    endpoint: str | None = me.json()["gpu_endpoint"]
    return endpoint


@ENDPOINTS
def test_a_gpu_endpoint_must_be_a_host_on_the_internet(
    client: httpx.Client, endpoint: str, without_allowlist: bool, with_allowlist: bool
) -> None:
    check_both_routes(client, endpoint, without_allowlist)


@ENDPOINTS
def test_the_operators_allowlist_opens_internal_hosts_but_never_link_local_or_metadata(
    allowing: httpx.Client, endpoint: str, without_allowlist: bool, with_allowlist: bool
) -> None:
    check_both_routes(allowing, endpoint, with_allowlist)


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        (
            "http://0xa9.0xfe.0xa9.0xfe/",
            "The GPU endpoint is refused: 169.254.169.254 is a cloud metadata address, which is never allowed.",
        ),
        (
            "http://10.0.0.5:7860/",
            "The GPU endpoint is refused: 10.0.0.5 is a private address; "
            "the server's operator can allow it in ARTBOARD_GPU_ENDPOINT_ALLOWLIST.",
        ),
    ],
)
def test_a_refusal_says_why_and_who_can_change_it(
    client: httpx.Client, account: Account, endpoint: str, message: str
) -> None:
    response = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": endpoint}, headers=account.headers)
    assert assert_envelope(response, 400, "validation_error")["message"] == message


def test_clearing_the_gpu_endpoint_needs_no_check(client: httpx.Client) -> None:
    account = register_and_login(client, gpu_endpoint=EARLIER)
    cleared = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": None}, headers=account.headers)
    assert cleared.status_code == 200 and cleared.json()["gpu_endpoint"] is None


def test_every_change_answers_a_new_signing_secret_that_is_shown_only_then(
    server: LiveServer, client: httpx.Client, account: Account
) -> None:
    first = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": EARLIER}, headers=account.headers)
    second = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": EARLIER}, headers=account.headers)
    secrets = [reply.json()["signing_secret"] for reply in (first, second)]
    assert all(re.fullmatch(r"absec_[A-Za-z0-9_-]{43}", secret) for secret in secrets), secrets
    assert secrets[0] != secrets[1]
    assert first.headers["cache-control"] == "no-store"
    assert "signing_secret" not in client.get("/api/auth/me", headers=account.headers).json()
    ((stored,),) = run_sql(server, "SELECT gpu_signing_secret FROM users WHERE id = :id", id=account.user["id"])
    assert stored and secrets[1] not in stored, "kept sealed, never in clear"


@pytest.mark.parametrize("endpoint", [EARLIER, None], ids=["with an endpoint", "without"])
def test_signing_up_with_an_endpoint_answers_its_signing_secret_once(
    server: LiveServer, client: httpx.Client, endpoint: str | None
) -> None:
    body = {"email": unique_email(), "password": PASSWORD, "gpu_endpoint": endpoint}
    registered = client.post("/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    assert registered.headers["cache-control"] == "no-store"
    secret = registered.json()["signing_secret"]
    ((stored,),) = run_sql(server, "SELECT gpu_signing_secret FROM users WHERE id = :id", id=registered.json()["id"])
    if endpoint is None:
        assert secret is None and stored is None
    else:
        assert re.fullmatch(r"absec_[A-Za-z0-9_-]{43}", secret) and stored and secret not in stored


def test_clearing_the_endpoint_clears_its_secret(server: LiveServer, client: httpx.Client, account: Account) -> None:
    client.put("/auth/gpu-endpoint", json={"gpu_endpoint": EARLIER}, headers=account.headers)
    cleared = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": None}, headers=account.headers)
    assert cleared.json()["signing_secret"] is None
    assert run_sql(server, "SELECT gpu_signing_secret FROM users WHERE id = :id", id=account.user["id"]) == [(None,)]


def test_the_openapi_document_names_the_signing_secret(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    reply = document["paths"]["/auth/gpu-endpoint"]["put"]["responses"]["200"]["content"]["application/json"]
    schema = document["components"]["schemas"][reply["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"gpu_endpoint", "signing_secret"} <= set(schema["required"])
    assert "Shown this once" in schema["properties"]["signing_secret"]["description"]

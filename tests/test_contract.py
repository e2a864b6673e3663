"""The OpenAPI document is a true contract: it documents every body a route reads and every error in the envelope
it is sent in, and Schemathesis, calling every operation with generated input (valid and invalid), signed out
and signed in, finds no 500, no undocumented status and no reply shaped otherwise than documented."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from artboard.app import create_app
from artboard.config import load_settings
from tests import photos
from tests.support import PASSWORD, Account, LiveServer, live_server, register_and_login

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
SEED = 20261130

# The document is generated in-process so pytest can make one test per operation when it collects; the calls
# go to a live server over HTTP. (Schemathesis' fixture-based loader does not run under pytest 9.)
# The stream of all a user's job events answers a signed-in call with events until the client leaves, and
# Schemathesis reads a reply to its end: it is left out here and tested in tests/jobs/test_events.py.
schema = schemathesis.openapi.from_dict(
    create_app(load_settings(data_dir=Path(tempfile.gettempdir()) / "artboard-contract")).openapi(),
    config=schemathesis.Config.from_dict({"seed": SEED}),
).exclude(method="GET", path="/api/jobs/events")


# Signing out ends the caller's session, which would sign out every operation after it: each of its calls
# signs in afresh instead (so it still runs with a token, and the other operations keep theirs). Signing out
# everywhere would end those too: each of its calls is made by a user of its own.
ENDS_THE_SESSION = {"POST /api/auth/logout"}
ENDS_EVERY_SESSION = {"POST /api/auth/logout-all"}


@dataclass(frozen=True)
class Caller:
    """Who calls: nobody signed in, or a user registered through the API with a bearer token."""

    base_url: str
    account: Account | None

    def headers_for(self, operation: str) -> dict[str, str]:
        if self.account is None:
            return {}
        if operation in ENDS_EVERY_SESSION:
            with httpx.Client(base_url=self.base_url) as client:
                return register_and_login(client, "contract-throwaway").headers
        if operation in ENDS_THE_SESSION:
            with httpx.Client(base_url=self.base_url) as client:
                tokens = client.post("/auth/login", json={"email": self.account.email, "password": PASSWORD})
            return {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        return self.account.headers


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One SQLite server of its own: the suite's ``server`` would run the whole contract twice.

    Schemathesis fails hundreds of sign-ins from one address: under the default per-address limit, the test's
    own sign-ins would be refused (429). The per-account limit still answers 429 to its most repeated guesses.
    """
    with live_server(tmp_path_factory.mktemp("contract"), login_failures_per_ip=100_000) as running:
        yield running


@pytest.fixture(scope="module", params=["signed-out", "signed-in"])
def caller(request: pytest.FixtureRequest, contract_server: LiveServer) -> Caller:
    if request.param == "signed-out":
        return Caller(contract_server.url, None)
    with httpx.Client(base_url=contract_server.url) as client:
        return Caller(contract_server.url, register_and_login(client, "contract"))


# About a minute and a half for both runs. Derandomized and without Hypothesis' example database, every run sends
# the same requests; server timing is not the contract, so no deadline; the health checks would only flag the
# slow, filtered generation that live HTTP calls make.
@schema.parametrize()
@settings(max_examples=50, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: Case[Any], caller: Caller) -> None:
    case.call_and_validate(base_url=caller.base_url, headers=caller.headers_for(case.operation.label), checks=CHECKS)


@pytest.fixture(scope="module")
def document(contract_server: LiveServer) -> dict[str, Any]:
    served: dict[str, Any] = httpx.get(f"{contract_server.url}/openapi.json").json()
    return served


FORMS = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")


def in_every_form(*required: str) -> dict[str, set[str]]:
    """Required fields of a body read as JSON, a urlencoded or a multipart form alike."""
    return {media_type: set(required) for media_type in FORMS}


BODIES: list[tuple[str, dict[str, set[str]] | None, set[str]]] = [
    ("POST /api/images", {"multipart/form-data": {"file"}}, {"file"}),
    (
        "POST /collection/items",
        {"multipart/form-data": {"image", "title"}, "application/json": {"title", "image_base64"}},
        {"image"},
    ),
    ("POST /api/storage/upload", {"multipart/form-data": {"key", "Content-Type", "token", "file"}}, {"file"}),
    (
        "POST /api/collections/{collection}/records",
        in_every_form("email", "password", "passwordConfirm"),
        set(),
    ),
    (
        "POST /api/collections/{collection}/auth-with-password",
        in_every_form("identity", "password"),
        set(),
    ),
    (
        "POST /auth/login",
        in_every_form("username", "password") | {"application/json": {"email", "password"}},
        set(),
    ),
    # These read no body: a token (header or cookie) or the path is all they take.
    ("POST /api/collections/{collection}/auth-refresh", None, set()),
    ("POST /api/auth/refresh", None, set()),
    ("POST /api/auth/logout", None, set()),
    ("POST /api/auth/logout-all", None, set()),
    ("POST /api/trash/{item_id}/restore", None, set()),
    ("POST /api/admin/maintenance", None, set()),
]


@pytest.mark.parametrize(("operation", "required_by_media_type", "files"), BODIES, ids=[row[0] for row in BODIES])
def test_every_body_a_route_reads_is_documented(
    document: dict[str, Any], operation: str, required_by_media_type: dict[str, set[str]] | None, files: set[str]
) -> None:
    method, path = operation.split(" ")
    declared = document["paths"][path][method.lower()].get("requestBody")
    if required_by_media_type is None:
        assert declared is None
        return
    assert declared["required"] is True
    assert set(declared["content"]) == set(required_by_media_type)
    for media_type, required in required_by_media_type.items():
        schema = declared["content"][media_type]["schema"]
        assert set(schema["required"]) == required, media_type
        binary = {name for name, field in schema["properties"].items() if field.get("format") == "binary"}
        assert binary == (files if media_type == "multipart/form-data" else set()), media_type


def test_every_error_is_documented_in_the_envelope_it_is_sent_in(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Error"]["required"]) == {"error", "message", "detail"}
    assert set(schemas["PocketBaseError"]["required"]) == {"status", "message", "data"}
    for path, operations in document["paths"].items():
        envelope = "PocketBaseError" if path.startswith("/api/collections/") else "Error"
        for method, operation in operations.items():
            bounds = {"400", "413"} if envelope == "PocketBaseError" else {"400", "413", "422"}
            assert bounds <= set(operation["responses"]), f"{method} {path}: the input bounds answer on every route"
            for status, answer in operation["responses"].items():
                if not status.startswith("4"):
                    continue
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{envelope}"}, f"{method} {path} {status}"


ANY_IMAGE = {"image/jpeg", "image/png", "image/webp", "image/gif"}
IMAGE_REPLIES: list[tuple[str, set[str]]] = [
    ("GET /api/images/{image_id}/file", ANY_IMAGE),
    ("GET /api/thumbnails/{file_name}", {"image/jpeg"}),
    ("GET /api/storage/files/{token}", ANY_IMAGE),
    ("GET /api/get_image", ANY_IMAGE),
    ("POST /api/get_image", ANY_IMAGE),
    ("GET /api/sketch/styles/preview.jpg", {"image/jpeg"}),
    ("GET /api/sketch/styles/{style}/preview.jpg", {"image/jpeg"}),
]


@pytest.mark.parametrize(("operation", "types"), IMAGE_REPLIES, ids=[row[0] for row in IMAGE_REPLIES])
def test_a_route_answering_an_images_bytes_documents_them_as_such(
    document: dict[str, Any], operation: str, types: set[str]
) -> None:
    method, path = operation.split(" ")
    content = document["paths"][path][method.lower()]["responses"]["200"]["content"]
    assert set(content) == types
    assert all(answer["schema"] == {"type": "string", "format": "binary"} for answer in content.values())


def test_an_images_file_comes_in_a_documented_type_and_answers_304_when_unchanged(
    contract_server: LiveServer, document: dict[str, Any]
) -> None:
    with httpx.Client(base_url=contract_server.url) as client:
        account = register_and_login(client, "files")
        uploaded = client.post("/api/images", files={"file": ("p.png", photos.png_16bit())}, headers=account.headers)
        image_id = uploaded.json()["id"]
        for variant in ("original", "thumb", "square"):
            answer = client.get(f"/api/images/{image_id}/file", params={"variant": variant}, headers=account.headers)
            documented = document["paths"]["/api/images/{image_id}/file"]["get"]["responses"]
            assert answer.status_code == 200 and answer.headers["content-type"] in documented["200"]["content"]
            etag = answer.headers["etag"]
            for if_none_match, status in ((etag, 304), ("*", 304), (f'"other", W/{etag}', 304), ('"other"', 200)):
                again = client.get(
                    f"/api/images/{image_id}/file",
                    params={"variant": variant},
                    headers={**account.headers, "If-None-Match": if_none_match},
                )
                assert again.status_code == status and "304" in documented, if_none_match

"""Artboard's PocketBase routes answer like a real PocketBase v0.40 (``<venv>/bin/pocketbase``), side by side.

Every scenario goes to both servers (PocketBase's own tests/api.go style). Both must answer the same status;
errors the same ``message``, the same ``data`` fields and the same field error ``code``s; successes every key
PocketBase sends (Artboard may add keys) with the same values, except values that differ per server
(ids, emails, names, times, tokens), of which only the type and format are compared.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, live_server, pocketbase_server, unique_email

# Same shape as the default `users` collection: anyone may register, a record is visible to itself only.
GENERATIO_USERS = {
    "name": "generatio_users",
    "type": "auth",
    "createRule": "",
    "listRule": "id = @request.auth.id",
    "viewRule": "id = @request.auth.id",
    "updateRule": "id = @request.auth.id",
    "deleteRule": "id = @request.auth.id",
    "fields": [
        {"name": "name", "type": "text", "max": 255},
        {"name": "avatar", "type": "file", "maxSelect": 1, "mimeTypes": ["image/jpeg", "image/png", "image/webp"]},
    ],
}
PER_SERVER = {"id", "email", "name", "created", "updated", "token"}
PB_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$")


@dataclass(frozen=True)
class Member:
    email: str
    id: str
    token: str


@dataclass
class Server:
    """One side of the comparison: a client and two signed-up members, Alice and Bob."""

    client: httpx.Client
    alice: Member
    bob: Member

    def placeholders(self) -> dict[str, str]:
        return {
            "alice_email": self.alice.email,
            "alice_id": self.alice.id,
            "bob_id": self.bob.id,
            "token": self.alice.token,
            "new_email": unique_email("conformance"),
        }


@dataclass(frozen=True)
class Scenario:
    """One request; ``status`` is what PocketBase answers. ``{alice_id}``, ``{token}``... are filled per server."""

    name: str
    method: str
    path: str
    status: int
    json: Any = None
    form: dict[str, str] | None = None
    multipart: dict[str, str] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items() if item is not ABSENT}
    return value


def send(server: Server, scenario: Scenario) -> httpx.Response:
    values = server.placeholders()
    parts = {key: (None, value) for key, value in _fill(scenario.multipart or {}, values).items()}
    return server.client.request(
        scenario.method,
        _fill(scenario.path, values),
        json=_fill(scenario.json, values),
        data=_fill(scenario.form, values),
        files=parts or None,
        content=scenario.content,
        headers=_fill(scenario.headers, values),
    )


@pytest.fixture(scope="module")
def pocketbase_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PocketBase with ``users`` and a ``generatio_users`` auth collection, killed at teardown."""
    with pocketbase_server(tmp_path_factory.mktemp("pocketbase")) as pocketbase:
        created = httpx.post(f"{pocketbase.url}/api/collections", json=GENERATIO_USERS, headers=pocketbase.admin)
        assert created.status_code == 200, created.text
        yield pocketbase.url


@pytest.fixture(scope="module")
def artboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(tmp_path_factory.mktemp("artboard")) as server:
        yield server.url


def _register(client: httpx.Client, collection: str, email: str) -> None:
    body = {"email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    client.post(f"/api/collections/{collection}/records", json=body).raise_for_status()


def _member(client: httpx.Client, email: str) -> Member:
    """A ``users`` member, registered and signed in."""
    _register(client, "users", email)
    login = client.post("/api/collections/users/auth-with-password", json={"identity": email, "password": PASSWORD})
    login.raise_for_status()
    return Member(email, login.json()["record"]["id"], login.json()["token"])


@pytest.fixture(scope="module")
def servers(pocketbase_url: str, artboard_url: str) -> Iterator[tuple[Server, Server]]:
    """PocketBase and Artboard, each with Alice and Bob signed up (Alice also in ``generatio_users``)."""
    alice, bob = unique_email("alice"), unique_email("bob")
    with httpx.Client(base_url=pocketbase_url, timeout=30) as pb, httpx.Client(base_url=artboard_url, timeout=30) as ab:
        _register(pb, "generatio_users", alice)  # PocketBase keeps two user bases; Artboard has one
        yield Server(pb, _member(pb, alice), _member(pb, bob)), Server(ab, _member(ab, alice), _member(ab, bob))


USERS, GENERATIO, NOPE = "/api/collections/users", "/api/collections/generatio_users", "/api/collections/nope"
REGISTER, SIGN_IN = f"{USERS}/records", f"{USERS}/auth-with-password"
REFRESH, METHODS = f"{USERS}/auth-refresh", f"{USERS}/auth-methods"
NEW = {"email": "{new_email}", "password": PASSWORD, "passwordConfirm": PASSWORD}
SHORT = {"password": "short", "passwordConfirm": "short"}
MISMATCH = {"passwordConfirm": "other-password"}
ABSENT = object()  # a field left out of the body
LONG, OVER_BCRYPT, OVER_MAX = ({"password": "x" * n, "passwordConfirm": "x" * n} for n in (72, 100, 129))
ALICE = {"identity": "{alice_email}", "password": PASSWORD}
AS_ALICE = {"Authorization": "{token}"}
BAD_JSON, JSON_TYPE, TEXT_TYPE = b"{nope", {"Content-Type": "application/json"}, {"Content-Type": "text/plain"}

SCENARIOS = [
    # register: POST /records (answers the record, no token)
    Scenario("register", "POST", REGISTER, 200, json=NEW),
    Scenario("register through generatio_users", "POST", f"{GENERATIO}/records", 200, json=NEW),
    Scenario("register with a form", "POST", REGISTER, 200, form=NEW),
    Scenario("register a duplicate email", "POST", REGISTER, 400, json={**NEW, "email": "{alice_email}"}),
    Scenario("register a short password", "POST", REGISTER, 400, json={**NEW, **SHORT}),
    Scenario("register mismatched passwords", "POST", REGISTER, 400, json={**NEW, **MISMATCH}),
    Scenario("register with no fields", "POST", REGISTER, 400, json={}),
    Scenario("register without passwordConfirm", "POST", REGISTER, 400, json={**NEW, "passwordConfirm": ABSENT}),
    Scenario("register a bad email", "POST", REGISTER, 400, json={**NEW, "email": "not-an-email"}),
    Scenario("register an email with spaces around", "POST", REGISTER, 400, json={**NEW, "email": " {new_email} "}),
    Scenario("register an email that is not a string", "POST", REGISTER, 400, json={**NEW, "email": 5}),
    Scenario("register a taken email, short password", "POST", REGISTER, 400, json={**SHORT, "email": "{alice_email}"}),
    Scenario("register a bad email, passwords differ", "POST", REGISTER, 400, json={**NEW, **MISMATCH, "email": "x"}),
    Scenario("register with invalid JSON", "POST", REGISTER, 400, content=BAD_JSON, headers=JSON_TYPE),
    Scenario("register with text/plain", "POST", REGISTER, 400, content=b"{}", headers=TEXT_TYPE),
    Scenario("register in an unknown collection", "POST", f"{NOPE}/records", 404, json=NEW),
    # sign in: POST /auth-with-password (answers {token, record})
    Scenario("sign in", "POST", SIGN_IN, 200, json=ALICE),
    Scenario("sign in with multipart", "POST", SIGN_IN, 200, multipart=ALICE),
    Scenario("sign in through generatio_users", "POST", f"{GENERATIO}/auth-with-password", 200, json=ALICE),
    Scenario("sign in with a wrong password", "POST", SIGN_IN, 400, json={**ALICE, "password": "wrong-password"}),
    Scenario("sign in an unknown user", "POST", SIGN_IN, 400, json={**ALICE, "identity": "nobody@example.com"}),
    Scenario("sign in without identity", "POST", SIGN_IN, 400, json={"password": PASSWORD}),
    Scenario("sign in with an empty body", "POST", SIGN_IN, 400),
    Scenario("sign in with a non-string identity", "POST", SIGN_IN, 400, json={**ALICE, "identity": 5}),
    Scenario("sign in with invalid JSON", "POST", SIGN_IN, 400, content=BAD_JSON, headers=JSON_TYPE),
    Scenario("sign in with text/plain", "POST", SIGN_IN, 400, content=b"{}", headers=TEXT_TYPE),
    Scenario("sign in to an unknown collection", "POST", f"{NOPE}/auth-with-password", 404, json=ALICE),
    # refresh: POST /auth-refresh, token in Authorization (the SDK sends it bare)
    Scenario("refresh a bare token", "POST", REFRESH, 200, headers=AS_ALICE),
    Scenario("refresh a Bearer token", "POST", REFRESH, 200, headers={"Authorization": "Bearer {token}"}),
    Scenario("refresh a lower-case bearer token", "POST", REFRESH, 200, headers={"Authorization": "bearer {token}"}),
    Scenario("refresh garbage", "POST", REFRESH, 401, headers={"Authorization": "garbage"}),
    Scenario("refresh Bearer garbage", "POST", REFRESH, 401, headers={"Authorization": "Bearer garbage"}),
    Scenario("refresh without a token", "POST", REFRESH, 401),
    Scenario("refresh in an unknown collection", "POST", f"{NOPE}/auth-refresh", 404, headers=AS_ALICE),
    # sign-in methods: GET /auth-methods
    Scenario("auth methods", "GET", METHODS, 200),
    Scenario("auth methods as the SDK asks", "GET", f"{METHODS}?fields=mfa,otp,password,oauth2", 200),
    Scenario("auth methods of generatio_users", "GET", f"{GENERATIO}/auth-methods", 200),
    Scenario("auth methods of an unknown collection", "GET", f"{NOPE}/auth-methods", 404),
    # view: GET /records/{id} (a record is visible to itself only)
    Scenario("view own record", "GET", f"{REGISTER}/{{alice_id}}", 200, headers=AS_ALICE),
    Scenario("view another user's record", "GET", f"{REGISTER}/{{bob_id}}", 404, headers=AS_ALICE),
    Scenario("view a record without a token", "GET", f"{REGISTER}/{{alice_id}}", 404),
    Scenario(
        "view a record with garbage", "GET", f"{REGISTER}/{{alice_id}}", 404, headers={"Authorization": "garbage"}
    ),
    Scenario("view a missing record", "GET", f"{REGISTER}/aaaaaaaaaaaaaaa", 404, headers=AS_ALICE),
    Scenario("view in an unknown collection", "GET", f"{NOPE}/records/{{alice_id}}", 404),
]


def _error(body: dict[str, Any]) -> dict[str, Any]:
    """What an error must share: status, message, and each field's error code."""
    data = body.get("data", {})
    codes = {name: error.get("code") if isinstance(error, dict) else error for name, error in data.items()}
    return {"status": body.get("status"), "message": body.get("message"), "data": codes}


def _differences(pocketbase: Any, artboard: Any, path: str = "") -> list[str]:
    """Where Artboard's success body lacks or changes something PocketBase sends (extra keys are fine)."""
    if isinstance(pocketbase, dict):
        if not isinstance(artboard, dict):
            return [f"{path or 'body'}: {artboard!r} is not an object"]
        found = []
        for key, value in pocketbase.items():
            if key not in artboard:
                found.append(f"{path}{key}: missing (PocketBase: {value!r})")
            else:
                found += _differences(value, artboard[key], f"{path}{key}.")
        return found
    path = path.rstrip(".")
    name = path.rsplit(".", 1)[-1]
    if name in PER_SERVER:
        if type(artboard) is not type(pocketbase):
            return [f"{path}: {artboard!r} is not a {type(pocketbase).__name__}"]
        if name in ("created", "updated") and not PB_TIME.match(artboard):
            return [f"{path}: {artboard!r} is not PocketBase's time format"]
        return []
    return [] if artboard == pocketbase else [f"{path}: {artboard!r}, PocketBase: {pocketbase!r}"]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_artboard_answers_like_pocketbase(servers: tuple[Server, Server], scenario: Scenario) -> None:
    """Same status; errors: same message and field codes; successes: every PocketBase key, same values."""
    pocketbase, artboard = (send(server, scenario) for server in servers)
    both = (
        f"\nPocketBase: {pocketbase.status_code} {pocketbase.text}\nArtboard:   {artboard.status_code} {artboard.text}"
    )
    assert pocketbase.status_code == scenario.status, f"PocketBase itself answered otherwise:{both}"
    assert artboard.status_code == pocketbase.status_code, both
    if pocketbase.status_code >= 400:
        assert _error(artboard.json()) == _error(pocketbase.json()), both
    else:
        assert _differences(pocketbase.json(), artboard.json()) == [], both


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


@pytest.mark.parametrize("route", ["auth-with-password", "auth-refresh"])
def test_tokens_carry_the_claims_the_sdk_reads(servers: tuple[Server, Server], route: str) -> None:
    """A JWT with exp, id, type "auth", collectionId (and every other claim PocketBase puts in)."""
    scenario = next(s for s in SCENARIOS if s.path.endswith(route) and s.status == 200)
    pocketbase, artboard = (send(server, scenario).json() for server in servers)
    expected = _claims(pocketbase["token"])
    for answer in (pocketbase, artboard):
        claims = _claims(answer["token"])
        assert claims["type"] == "auth"
        assert claims["id"] == answer["record"]["id"]
        assert claims["collectionId"] == answer["record"]["collectionId"] == "_pb_users_auth_"
        assert isinstance(claims["exp"], int) and claims["exp"] > time.time()
        assert expected.keys() <= claims.keys(), claims


@pytest.mark.parametrize("password", [LONG, OVER_BCRYPT], ids=["72 characters", "100 characters"])
def test_long_passwords_are_artboards_deliberate_difference(
    servers: tuple[Server, Server], password: dict[str, str]
) -> None:
    """PocketBase (bcrypt) refuses passwords over 71 characters; Artboard (argon2id) takes up to 128, everywhere."""
    pocketbase, artboard = (
        send(server, Scenario("long", "POST", REGISTER, 0, json={**NEW, **password})) for server in servers
    )
    assert pocketbase.status_code == 400
    assert artboard.status_code == 200, artboard.text
    too_long = send(servers[1], Scenario("too long", "POST", REGISTER, 0, json={**NEW, **OVER_MAX}))
    assert too_long.status_code == 400
    assert too_long.json()["data"]["password"]["code"] == "validation_max_text_constraint"

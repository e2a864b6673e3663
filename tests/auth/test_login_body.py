"""`/auth/login` takes JSON or the OAuth2 form; a body it cannot use is answered with what to send instead."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import PASSWORD, Account, assert_envelope

SEND_THIS = 'Send JSON {"email", "password"} or an OAuth2 form (username, password).'
NAME_THE_USERNAME = "username: Field required (the OAuth2 form signs in with username=<email>)"


@pytest.mark.parametrize(
    ("request_body", "status", "message"),
    [
        ({"data": {"password": PASSWORD}}, 422, NAME_THE_USERNAME),
        ({"files": {"password": (None, PASSWORD)}}, 422, NAME_THE_USERNAME),
        ({"content": b""}, 400, SEND_THIS),
        ({"content": b"username=someone%40example.com&password=x"}, 400, SEND_THIS),
        ({"content": b'{"email": "someone@example.com"}', "headers": {"content-type": "text/plain"}}, 400, SEND_THIS),
        ({"content": b"\x89PNG", "headers": {"content-type": "application/octet-stream"}}, 400, SEND_THIS),
        ({"json": {"password": PASSWORD}}, 422, "email: Field required"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, None),
    ],
    ids=[
        "form without username",
        "multipart form without username",
        "no body at all",
        "a form sent without its content type",
        "JSON sent as text/plain",
        "bytes of another type",
        "JSON without email",
        "broken JSON keeps its parse error",
    ],
)
def test_a_login_body_that_cannot_be_used_says_what_to_send(
    client: httpx.Client, request_body: dict[str, Any], status: int, message: str | None
) -> None:
    body = assert_envelope(client.post("/auth/login", **request_body), status, "validation_error")
    if message is None:
        assert body["message"].startswith("The request body is not valid JSON")
    else:
        assert body["message"] == message


@pytest.mark.parametrize(
    "fields",
    [
        lambda account: {"json": {"email": account.email, "password": PASSWORD}},
        lambda account: {"json": {"username": account.email, "password": PASSWORD}},
        lambda account: {"data": {"username": account.email, "password": PASSWORD}},
        lambda account: {"data": {"email": account.email, "password": PASSWORD}},
        lambda account: {"files": {"username": (None, account.email), "password": (None, PASSWORD)}},
    ],
    ids=["JSON", "JSON with username", "OAuth2 form", "form with email", "multipart form"],
)
def test_every_way_of_sending_credentials_still_signs_in(client: httpx.Client, account: Account, fields: Any) -> None:
    response = client.post("/auth/login", **fields(account))
    assert response.status_code == 200, response.text

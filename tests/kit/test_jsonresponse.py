"""What is stored is servable: a value written before the input checks (or behind the API) never fails a read."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from artboard.kit.jsonresponse import SafeJSONResponse, StoredJson
from tests import photos
from tests.kit.test_limits import nested
from tests.support import Account, LiveServer, run_sql


@pytest.mark.parametrize(
    ("content", "rendered"),
    [
        ({"message": "é", "detail": [1, None]}, '{"message":"é","detail":[1,null]}'),
        (
            {"message": "preferences.\ud800: must be valid Unicode"},
            '{"message":"preferences.\\ud800: must be valid Unicode"}',
        ),
        ({"\udfff": "é"}, '{"\\udfff":"\\u00e9"}'),
    ],
)
def test_an_error_envelope_renders_whatever_text_it_echoes(content: Any, rendered: str) -> None:
    assert bytes(SafeJSONResponse(content).body).decode() == rendered


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ({"a": "é", "b": [1, 2.5, None]}, {"a": "é", "b": [1, 2.5, None]}),
        ({"a": "\ud800", "b": ["x\udbffy"]}, {"a": "\ufffd", "b": ["x\ufffdy"]}),
        ({"\udfff": 1}, {"\ufffd": 1}),
        ({"a": math.nan, "b": [math.inf]}, {"a": None, "b": [None]}),
        (nested(300), nested(64, json.dumps(nested(236)))),
    ],
)
def test_stored_json_serializes_whatever_it_holds(stored: dict[str, Any], served: dict[str, Any]) -> None:
    adapter = TypeAdapter(StoredJson)
    assert json.loads(adapter.dump_json(adapter.validate_python(stored))) == served


# Values the API now refuses, as JSON text a database column holds (PostgreSQL's json type has no NaN).
STORED = [
    pytest.param('{"note": "\\ud800"}', {"note": "\ufffd"}, id="lone surrogate"),
    pytest.param('{"\\udfff": [1, "\\udbff"]}', {"\ufffd": [1, "\ufffd"]}, id="lone surrogate key"),
    pytest.param(json.dumps(nested(300)), nested(64, json.dumps(nested(236))), id="300 levels"),
]


@pytest.mark.parametrize(("raw", "value"), STORED)
def test_stored_preferences_are_served_whatever_they_hold(
    server: LiveServer, client: httpx.Client, account: Account, raw: str, value: Any
) -> None:
    body = {"model_name": "stored", "preferences": {}}
    client.post("/api/custom/preferences/save", json=body, headers=account.headers).raise_for_status()
    run_sql(
        server,
        "UPDATE preferences SET preferences = :raw WHERE owner_id = :owner AND model_name = 'stored'",
        raw=raw,
        owner=account.user["id"],
    )
    got = client.post("/api/custom/preferences/get", json={"model_name": "stored"}, headers=account.headers)
    assert got.status_code == 200, got.text
    assert got.json()["preferences"] == value


@pytest.mark.parametrize(("raw", "value"), STORED)
def test_stored_item_metadata_is_served_whatever_it_holds(
    server: LiveServer, client: httpx.Client, account: Account, raw: str, value: Any
) -> None:
    item = {"title": "card", "image_base64": base64.b64encode(photos.flower()).decode()}
    created = client.post("/collection/items", json=item, headers=account.headers).json()
    run_sql(server, "UPDATE images SET details = :raw WHERE id = :id", raw=raw, id=created["id"])
    for path in ("/collection/items", f"/api/images/{created['id']}"):
        response = client.get(path, headers=account.headers)
        assert response.status_code == 200, response.text
        found = response.json()
        found = next(i for i in found["items"] if i["id"] == created["id"]) if "items" in found else found
        assert found["metadata"] == value

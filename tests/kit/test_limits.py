"""Every request is bounded before a route holds it: the head, the body and the values in it, on every route."""

from __future__ import annotations

import http.client
import json
import math
import socket
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from artboard.config import Settings
from tests import photos
from tests.support import REDIS_URL, Account, LiveServer, free_port, serving_process

MiB = 1024 * 1024
KiB = 1024
FORM = "multipart/form-data; boundary=b"
JSON = "application/json"
URLENCODED = "application/x-www-form-urlencoded"
FILE_PART = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def exchange(url: str, head: bytes, chunks: Iterable[bytes] = ()) -> Reply:
    """Send raw bytes (to declare what a client library would not), then read the reply.

    The server may answer and close before everything is sent: the reply is read all the same.
    """
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(prefix: bytes, total: int) -> Iterable[bytes]:
    """``total`` bytes (``prefix`` first) in chunked transfer encoding, never ended: the cap must hold mid-stream."""
    yield b"%x\r\n%s\r\n" % (len(prefix), prefix)
    sent = len(prefix)
    while sent < total:
        piece = b"x" * min(64 * KiB, total - sent)
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
        sent += len(piece)


def ordinary(_settings: Settings) -> int:
    return MiB


def file_form(settings: Settings) -> int:
    return settings.max_file_size + 64 * KiB


def base64_json(settings: Settings) -> int:
    return settings.max_file_size * 4 // 3 + 64 * KiB


BODY_ROUTES = [
    pytest.param("/api/auth/login", JSON, b'{"email": "', ordinary, id="artboard sign-in, JSON"),
    pytest.param("/auth/register", JSON, b'{"email": "', ordinary, id="artboard register, JSON"),
    pytest.param("/auth/login", URLENCODED, b"username=", ordinary, id="artboard OAuth2 form"),
    pytest.param("/api/custom/preferences/save", JSON, b'{"preferences": "', ordinary, id="preferences, JSON"),
    pytest.param("/api/folders", JSON, b'{"name": "', ordinary, id="folders, JSON"),
    pytest.param(
        "/api/collections/users/auth-with-password", JSON, b'{"identity": "', ordinary, id="pocketbase sign-in, JSON"
    ),
    pytest.param("/api/collections/users/records", FORM, FILE_PART, ordinary, id="pocketbase register, multipart"),
    pytest.param("/api/images", FORM, FILE_PART, file_form, id="image upload, multipart"),
    pytest.param("/api/storage/upload", FORM, FILE_PART, file_form, id="direct upload, multipart"),
    pytest.param("/collection/items", FORM, FILE_PART, base64_json, id="collection item, multipart"),
    pytest.param("/collection/items", JSON, b'{"image_base64": "', base64_json, id="collection item, base64 JSON"),
]


@pytest.mark.parametrize("sent", ["200 MiB declared", "chunked past the limit"])
@pytest.mark.parametrize(("path", "content_type", "prefix", "limit"), BODY_ROUTES)
def test_a_body_over_its_limit_is_413_before_it_is_read(
    server: LiveServer,
    account: Account,
    path: str,
    content_type: str,
    prefix: bytes,
    limit: Callable[[Settings], int],
    sent: str,
) -> None:
    cap = limit(server.settings)
    headers = {"Content-Type": content_type, **account.headers}
    if sent == "200 MiB declared":  # nothing follows the head: the answer cannot wait for the body
        response = exchange(server.url, request_head("POST", path, {**headers, "Content-Length": str(200 * MiB)}))
    else:
        head = request_head("POST", path, {**headers, "Transfer-Encoding": "chunked"})
        response = exchange(server.url, head, chunked(prefix, cap + 64 * KiB))
    assert response.status == 413
    body = response.json()
    if path.startswith("/api/collections/"):
        assert body["status"] == 413 and body["data"] == {} and body["message"]
    else:
        assert body["error"] == "payload_too_large" and body["detail"] == {"limit": cap}
        assert f"{cap} byte limit" in body["message"]


def test_a_body_just_under_the_limit_is_read(client: httpx.Client, account: Account) -> None:
    preferences = {"prompt": "x" * (MiB - 100)}
    saved = client.post(
        "/api/custom/preferences/save", json={"model_name": "big", "preferences": preferences}, headers=account.headers
    )
    assert saved.status_code == 200, saved.text[:200]
    got = client.post("/api/custom/preferences/get", json={"model_name": "big"}, headers=account.headers)
    assert got.json()["preferences"] == preferences


def send_headers(url: str, header_bytes: int, ended: bool) -> Reply:
    """A GET whose one header holds ``header_bytes`` bytes, ended or never ended."""
    pieces = (b"a" * min(64 * KiB, header_bytes - offset) for offset in range(0, header_bytes, 64 * KiB))
    return exchange(
        url, b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: ", [*pieces, b"\r\n\r\n"] if ended else pieces
    )


@pytest.mark.parametrize(
    ("header_bytes", "ended", "status"),
    [
        pytest.param(60 * KiB, True, 200, id="60 KiB of headers"),
        pytest.param(70 * KiB, True, 431, id="70 KiB of headers"),
        pytest.param(70 * KiB, False, 431, id="70 KiB of a header that never ends"),
        pytest.param(64 * MiB, False, 431, id="64 MiB of a header that never ends"),
    ],
)
def test_a_request_head_over_64_kib_is_431_and_the_connection_closes(
    server: LiveServer, header_bytes: int, ended: bool, status: int
) -> None:
    response = send_headers(server.url, header_bytes, ended)
    assert response.status == status
    if status == 431:
        assert response.headers["connection"] == "close"
        assert response.json() == {
            "error": "headers_too_large",
            "message": "The request line and headers are over 64 KiB.",
            "detail": {"limit": 64 * KiB},
        }


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Key: a\x01b\r\n\r\n", id="a control byte in a header"),
        pytest.param(b"GET /health HTTP/1.1\r\nHost: test\r\nNo colon here\r\n\r\n", id="a header without a colon"),
        pytest.param(b"GET /he alth HTTP/1.1\r\nHost: test\r\n\r\n", id="a space in the path"),
    ],
)
def test_a_request_that_is_not_http_is_400_in_the_envelope(server: LiveServer, head: bytes) -> None:
    response = exchange(server.url, head)
    assert response.status == 400 and response.headers["connection"] == "close"
    assert response.json()["error"] == "malformed_request"


def test_a_head_just_over_64_kib_sent_in_one_piece_is_431(server: LiveServer) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"a" * (64 * KiB + 500) + b"\r\n\r\n"
    assert exchange(server.url, head).status == 431


WEBSOCKET_HEADS = {
    "a browser's 9 KB cookie": {"Cookie": "a=" + "b" * 9000},
    "300 small headers": {f"X-Extra-{n}": "x" for n in range(300)},
}


@pytest.mark.parametrize("extra", WEBSOCKET_HEADS.values(), ids=WEBSOCKET_HEADS.keys())
def test_a_websocket_handshake_with_a_big_head_under_64_kib_is_answered_at_once(
    server: LiveServer, account: Account, extra: dict[str, str]
) -> None:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        **extra,
    }
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request_head("GET", f"/ws?token={account.access_token}", headers))
        assert sock.recv(100).startswith(b"HTTP/1.1 101 ")  # not left waiting (socket timeout 10 s)


@pytest.mark.parametrize("pipelined", [False, True], ids=["one after another", "pipelined"])
def test_each_request_on_a_connection_has_its_own_64_kib(server: LiveServer, pipelined: bool) -> None:
    address = urlsplit(server.url)
    head = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: " + b"a" * (40 * KiB) + b"\r\n\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock, sock.makefile("rb") as replies:
        if pipelined:
            sock.sendall(head * 3)
        statuses = []
        for _ in range(3):
            if not pipelined:
                sock.sendall(head)
            statuses.append(int(replies.readline().split()[1]))
            length = 0
            while (line := replies.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                length = int(value) if name.lower() == b"content-length" else length
            replies.read(length)
    assert statuses == [200, 200, 200]


@pytest.mark.parametrize(
    ("flags", "env"), [([], {}), (["--workers", "2"], {"REDIS_URL": REDIS_URL})], ids=["one process", "--workers 2"]
)
def test_artboard_serve_bounds_heads_and_bodies(tmp_path: Path, flags: list[str], env: dict[str, str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).parent / "artboard"), "serve", "--port", str(port), *flags]
    with serving_process(argv, tmp_path, f"{url}/health", env=env):
        assert send_headers(url, 70 * KiB, ended=True).status == 431
        assert send_headers(url, 60 * KiB, ended=True).status == 200
        declared = request_head("POST", "/api/auth/login", {"Content-Type": JSON, "Content-Length": str(200 * MiB)})
        assert exchange(url, declared).status == 413


def nested(levels: int, innermost: Any = 1) -> dict[str, Any]:
    """``levels`` objects, one inside the other."""
    value: dict[str, Any] = {"a": innermost}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def encode(kind: str, fields: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """Headers and content sending ``fields`` as ``kind``; JSON keeps lone surrogates and NaN as escapes/literals."""
    if kind == "form":
        return {"Content-Type": URLENCODED}, urlencode(fields).encode()
    if kind == "multipart":
        parts = [f'--b\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
        return {"Content-Type": FORM}, ("".join(parts) + "--b--\r\n").encode()
    if kind == "chunked JSON, no Content-Type":
        return {}, iter([json.dumps(fields).encode()])
    return {"Content-Type": JSON}, json.dumps(fields).encode()


PB_SIGN_IN = "POST /api/collections/users/auth-with-password"
PB_REGISTER = "POST /api/collections/users/records"
PREFERENCES = "POST /api/custom/preferences/save"
SURROGATE = "must be valid Unicode (no lone surrogates)"
NUL = "must not contain NUL characters"
DEEP = "must not be nested deeper than 32 levels"
NAN = "must not be NaN or Infinity"


@pytest.mark.parametrize(
    ("route", "kind", "fields", "status", "message"),
    [
        (PB_SIGN_IN, "JSON", {"identity": "\ud800", "password": "x"}, 400, f"identity: {SURROGATE}"),
        (PB_SIGN_IN, "JSON", {"identity": "a@b.co", "password": "\udfff"}, 400, f"password: {SURROGATE}"),
        (PB_SIGN_IN, "chunked JSON, no Content-Type", {"identity": "\ud800"}, 400, f"identity: {SURROGATE}"),
        (PB_REGISTER, "JSON", {"email": "a@b.co", "password": "\ud800" * 9}, 400, f"password: {SURROGATE}"),
        (PB_SIGN_IN, "form", {"identity": "a\x00b", "password": "x"}, 400, f"identity: {NUL}"),
        (PB_SIGN_IN, "multipart", {"identity": "a\x00b", "password": "x"}, 400, f"identity: {NUL}"),
        ("POST /auth/login", "JSON", {"email": "a@b.co", "password": "\ud800"}, 422, f"password: {SURROGATE}"),
        ("POST /api/auth/login", "JSON", {"email": "\udc00@b.co", "password": "x"}, 422, f"email: {SURROGATE}"),
        ("POST /auth/register", "JSON", {"email": "a@b.co", "password": "pass\x00word"}, 422, f"password: {NUL}"),
        ("POST /auth/login", "form", {"username": "a\x00b", "password": "x"}, 422, f"username: {NUL}"),
        ("POST /auth/login", "multipart", {"username": "a\x00b", "password": "x"}, 422, f"username: {NUL}"),
        (PREFERENCES, "JSON", {"model_name": "m", "preferences": {"a": "\ud800"}}, 422, f"preferences.a: {SURROGATE}"),
        (PREFERENCES, "JSON", {"model_name": "m", "preferences": {"\ud800": 1}}, 422, SURROGATE),
        (PREFERENCES, "JSON", {"model_name": "m", "preferences": {"s": [1, math.nan]}}, 422, f"preferences.s.1: {NAN}"),
        (PREFERENCES, "JSON", {"model_name": "m", "preferences": {"s": -math.inf}}, 422, f"preferences.s: {NAN}"),
        (PREFERENCES, "JSON", {"model_name": "m", "preferences": nested(32)}, 400, DEEP),
        (PREFERENCES, "JSON", {"model_name": "m", "preferences": nested(300)}, 400, DEEP),
        (
            "POST /collection/items",
            "JSON",
            {"title": "t", "metadata": {"n": "\ud800"}},
            422,
            f"metadata.n: {SURROGATE}",
        ),
        ("POST /api/folders", "JSON", {"name": "\ud800"}, 422, f"name: {SURROGATE}"),
        ("GET /api/images?folder_id=%00", None, {}, 422, f"folder_id: {NUL}"),
        ("GET /api/images/%00", None, {}, 422, f"path: {NUL}"),
        ("GET /api/collections/users/records/%00", None, {}, 400, f"path: {NUL}"),
    ],
)
def test_a_value_no_database_or_reply_can_hold_is_refused_naming_its_field(
    client: httpx.Client,
    account: Account,
    route: str,
    kind: str | None,
    fields: dict[str, Any],
    status: int,
    message: str,
) -> None:
    method, path = route.split(" ")
    headers, content = encode(kind, fields) if kind else ({}, None)
    response = client.request(method, path, content=content, headers={**account.headers, **headers})
    assert response.status_code == status, response.text
    reply = response.json()
    assert message in reply["message"]
    if path.startswith("/api/collections/"):
        field = reply["message"].split(":")[0]
        assert reply["data"][field]["code"] == "validation_invalid_value"
    else:
        assert reply["error"] == "validation_error" and reply["detail"][0]["message"] in reply["message"]


def test_a_body_nested_32_levels_is_read(client: httpx.Client, account: Account) -> None:
    body = {"model_name": "deep", "preferences": nested(31)}
    assert client.post("/api/custom/preferences/save", json=body, headers=account.headers).status_code == 200
    got = client.post("/api/custom/preferences/get", json={"model_name": "deep"}, headers=account.headers)
    assert got.json()["preferences"] == nested(31)


def test_a_metadata_field_with_a_surrogate_is_refused(client: httpx.Client, account: Account) -> None:
    response = client.post(
        "/collection/items",
        files={"image": ("card.jpg", photos.flower(), "image/jpeg")},
        data={"title": "card", "metadata": '{"note": "\\ud800"}'},
        headers=account.headers,
    )
    assert response.status_code == 400 and "metadata" in response.json()["message"]

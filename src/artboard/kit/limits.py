"""Every request is bounded before a route holds it in memory, whatever the route: one mechanism per layer.

- The head (request line and headers): at most ``HEADER_LIMIT`` bytes, counted by the HTTP protocol as they
  arrive, since uvicorn parses headers before the application sees the request (``server_options``).
- The body: at most ``BODY_LIMIT`` bytes, or the larger limit ``upload_limits`` gives a route that takes a
  file; checked against Content-Length up front and counted as it arrives, chunked or not (``InputLimits``).
- The values: JSON bodies, form fields, the path and the query hold nothing ``check_storable`` refuses
  (``InputLimits``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets import http11 as websockets_http11

from artboard.errors import PayloadTooLarge, envelope, invalid_fields
from artboard.kit.body import BODY_LIMIT, FORM_OVERHEAD, BodyError, Unstorable, check_storable, loads_strict

# Browsers send a few KiB; servers commonly stop at 8 to 64 KiB.
HEADER_LIMIT = 64 * 1024


def upload_limits(max_file_size: int) -> dict[tuple[str, str], int]:
    """The routes that take a file, by method and path, and their body limits: the file and the form around it,
    or (a collection item sent as JSON) the file's base64 text, 4/3 of its size."""
    form = max_file_size + FORM_OVERHEAD
    return {
        ("POST", "/api/images"): form,
        ("POST", "/api/storage/upload"): form,
        ("POST", "/collection/items"): max_file_size * 4 // 3 + FORM_OVERHEAD,
    }


class InputLimits:
    """ASGI middleware: refuse what no route should read (413 over the size limit, 422 or 400 for a value
    ``check_storable`` refuses) in the route's error envelope, before the route runs.

    An ordinary body is read whole here (it is at most ``BODY_LIMIT``) and handed on; so is a JSON body, which
    routes parse whole anyway. Any other body of an upload route streams on to the route, counted as it goes.
    """

    def __init__(self, app: ASGIApp, limits: Mapping[tuple[str, str], int]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal, receive = await self._admit(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, receive: Receive) -> tuple[Response | None, Receive]:
        """A refusal, or None and the ``receive`` the route reads its body through."""
        path: str = scope["path"]
        try:
            _check_url(path, scope["query_string"])
        except Unstorable as exc:
            return _invalid(path, exc), receive
        limit = self.limits.get((scope["method"], path), BODY_LIMIT)
        content_type, declared, chunked = _framing(scope["headers"])
        if declared is not None and declared > limit:
            return _too_large(path, limit), receive
        if not (declared or chunked):
            return None, receive
        if limit > BODY_LIMIT and not _is_json(_media_type(content_type)):
            return None, _counted(receive, limit)
        messages = await _read_up_to(receive, limit)
        if messages is None:
            return _too_large(path, limit), receive
        if messages[-1]["type"] == "http.request":  # the whole body (not a disconnect): checked, handed on whole
            body = b"".join(m.get("body", b"") for m in messages)
            try:
                await _check_body(content_type, body)
            except Unstorable as exc:
                return _invalid(path, exc), receive
            messages = [{"type": "http.request", "body": body, "more_body": False}]
        return None, _replay(messages, receive)


def _check_url(path: str, query: bytes) -> None:
    """Only NUL can reach a decoded path or query (both decode UTF-8 with replacement)."""
    if "\x00" in path:
        check_storable({"path": path})
    if b"%00" in query:
        _check_pairs(parse_qsl(query.decode("latin-1"), keep_blank_values=True))


async def _check_body(content_type: bytes, body: bytes) -> None:
    """A JSON body's values; a form's fields when it holds a NUL (the one problem their decoding lets through)."""
    media_type = _media_type(content_type)
    if _is_json(media_type):
        try:
            loads_strict(body)
        except Unstorable:
            raise
        except BodyError:
            pass  # not JSON at all: the route answers that as it always has
    elif media_type == b"application/x-www-form-urlencoded" and (b"%00" in body or b"\x00" in body):
        _check_pairs(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
    elif media_type == b"multipart/form-data" and b"\x00" in body:
        try:
            form = await MultiPartParser(Headers({"content-type": content_type.decode("latin-1")}), _once(body)).parse()
        except MultiPartException:
            return  # the route reports it
        try:
            _check_pairs([(name, value) for name, value in form.multi_items() if isinstance(value, str)])
        finally:
            await form.close()


def _media_type(content_type: bytes) -> bytes:
    return content_type.split(b";", 1)[0].strip().lower()


def _is_json(media_type: bytes) -> bool:
    """What routes parse as JSON: no Content-Type, ``application/json`` or any ``+json`` type."""
    return media_type in (b"", b"application/json") or media_type.endswith(b"+json")


def _check_pairs(pairs: list[tuple[str, str]]) -> None:
    for name, value in pairs:
        check_storable({name: value})


async def _once(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


def _framing(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, int | None, bool]:
    """Content-Type, the declared Content-Length, and whether the body is chunked."""
    content_type, declared, chunked = b"", None, False
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            declared = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return content_type, declared, chunked


async def _read_up_to(receive: Receive, limit: int) -> list[Message] | None:
    """The body's messages as received (a disconnect included), or None once they pass ``limit`` bytes."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises 413 (answered by the error handlers) once the body passes ``limit`` bytes."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _payload_too_large(limit)
        return message

    return counted


def _payload_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the {limit} byte limit.", detail={"limit": limit})


def _too_large(path: str, limit: int) -> Response:
    error = _payload_too_large(limit)
    return envelope(path, error.status, error.code, error.message, error.detail)


def _invalid(path: str, exc: Unstorable) -> Response:
    return invalid_fields(path, [{"field": exc.field, "message": exc.problem}], exc.status)


def _raw_envelope(status: int, reason: bytes, code: str, message: str, detail: Any = None) -> bytes:
    """A whole HTTP/1.1 reply with the error envelope's body, for the HTTP layer (no route, no app) to send as it
    closes the connection."""
    body = envelope("/", status, code, message, detail).body
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, reason, len(body))
        + body
    )


_HEAD_TOO_LARGE = _raw_envelope(
    431,
    b"Request Header Fields Too Large",
    "headers_too_large",
    f"The request line and headers are over {HEADER_LIMIT // 1024} KiB.",
    {"limit": HEADER_LIMIT},
)
_NOT_HTTP = _raw_envelope(
    400, b"Bad Request", "malformed_request", "The request is not valid HTTP/1.1 (its line or a header is malformed)."
)


# A WebSocket handshake is parsed a second time, by the websockets library, whose own limits (a line of 8 KiB,
# 128 headers) are below HEADER_LIMIT: a browser's 9 KB cookie was refused there, and uvicorn's websockets
# implementation leaves that refusal unsent until the client gives up (the handshake hung). The head has
# passed HEADER_LIMIT's check by then; the library reads these module settings on every handshake.
websockets_http11.MAX_LINE_LENGTH = HEADER_LIMIT
websockets_http11.MAX_NUM_HEADERS = HEADER_LIMIT // 8


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 and closing once a request's head passes ``HEADER_LIMIT``.

    httptools keeps a header in memory until it ends, and llhttp sets no limit, so the bytes are counted as they
    arrive: at most one read (256 KiB) past the limit is parsed. A read that starts while a head is pending is
    counted whole; a body is never counted. A head that arrives whole in one read is measured as it is parsed
    (its URL and headers) and refused when it completes. The per-request work is a few flags and counters.
    """

    _reading_head = True
    _head_bytes = 0  # bytes read while a head was pending
    _parsed_head = 0  # bytes of the pending head's URL, header names and values
    _refused = False

    # The base class is called by name: super() would cost more per request than the counting itself.
    def data_received(self, data: bytes) -> None:
        if not self._reading_head:
            HttpToolsProtocol.data_received(self, data)
            return
        self._head_bytes += len(data)
        HttpToolsProtocol.data_received(self, data)
        if self._reading_head and self._head_bytes > HEADER_LIMIT:
            self._answer_and_close(_HEAD_TOO_LARGE)

    def on_url(self, url: bytes) -> None:
        self._parsed_head += len(url)
        HttpToolsProtocol.on_url(self, url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed_head += len(name) + len(value) + 4  # ": " and CRLF
        HttpToolsProtocol.on_header(self, name, value)

    def on_headers_complete(self) -> None:
        if self._parsed_head > HEADER_LIMIT:
            self._refused = True
            raise _HeadTooLarge  # httptools stops parsing and uvicorn answers through send_400_response
        self._reading_head, self._head_bytes, self._parsed_head = False, 0, 0
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self._reading_head = True
        HttpToolsProtocol.on_message_complete(self)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools could not parse, in the envelope (or the 431 it was)."""
        self._answer_and_close(_HEAD_TOO_LARGE if self._refused else _NOT_HTTP)

    def _answer_and_close(self, reply: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(reply)
            self.transport.close()


class _HeadTooLarge(Exception):
    """Raised from a parser callback: the head just parsed is over ``HEADER_LIMIT``."""


def server_options() -> dict[str, Any]:
    """uvicorn options for every Artboard server (``artboard serve``, its workers, the tests' live server).

    h11, should anything run it instead, bounds an incomplete head itself; this sets it to the same limit.
    A stop waits at most a few seconds for open responses: an event stream a browser keeps open would
    otherwise hold the server up forever. uvicorn's own access log is off: Artboard writes its own line
    (``middleware.py``), and uvicorn would otherwise format its arguments on every request for a logger
    that writes nothing.
    """
    return {
        "http": BoundedHttpToolsProtocol,
        "h11_max_incomplete_event_size": HEADER_LIMIT,
        "timeout_graceful_shutdown": 5,
        "access_log": False,
    }

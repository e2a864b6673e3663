"""`gpu:*` models run on the user's own GPU server: every call signed with the secret `PUT /auth/gpu-endpoint`
answered, checked against SSRF when it is made (an empty allowlist refuses every internal address, whatever
the name saved), never following a redirect, bounded in time and size, and its answer must be an image."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image, ImageOps

from artboard.kit import call_signature
from tests import photos
from tests.jobs.held_engine import eventually, poll, upload
from tests.support import Account, LiveServer, assert_envelope, live_server, register_and_login, run_sql

TIMEOUT_S = 1.5
MAX_REPLY_BYTES = 2_000_000
DOCS = Path(__file__).parents[2] / "docs" / "gpu-endpoint.md"


def inverted_png(image: bytes) -> bytes:
    """What the stand-in makes of an image: its negative, as PNG."""
    buffer = io.BytesIO()
    ImageOps.invert(Image.open(io.BytesIO(image)).convert("RGB")).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Call:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class GpuStandIn:
    """A user's GPU server on a free local port. It checks every call's signature with ``secret`` (401 when it
    fails) and then answers as ``reply`` names: see ``REPLIES``."""

    secret: str = ""
    reply: str = "png"
    calls: list[Call] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers["Content-Length"]))
        if not call_signature.verify(self.secret, handler.headers.get("Artboard-Signature", ""), raw):
            send(handler, 401, b'{"error": "bad signature"}', "application/json")
            return
        body = json.loads(raw)
        self.calls.append(Call({name.lower(): value for name, value in handler.headers.items()}, body))
        REPLIES[self.reply](self, handler, base64.b64decode(body["image"]))


def send(handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    for name, value in {"Content-Length": str(len(data)), **headers}.items():
        if value:
            handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def stream_without_length(handler: BaseHTTPRequestHandler, chunks: int) -> None:
    """PNG bytes without Content-Length (HTTP/1.0: the body ends when the connection does), 100 KB at a time."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/png")
    handler.end_headers()
    for _ in range(chunks):
        handler.wfile.write(b"\x89PNG\r\n\x1a\n" + bytes(100_000))


def hold(stand_in: GpuStandIn, handler: BaseHTTPRequestHandler, image: bytes) -> None:
    stand_in.release.wait(30)
    send(handler, 200, inverted_png(image), "image/png")


def answer_late(_: GpuStandIn, handler: BaseHTTPRequestHandler, image: bytes) -> None:
    time.sleep(TIMEOUT_S + 1)
    send(handler, 200, inverted_png(image), "image/png")


REPLIES: dict[str, Callable[[GpuStandIn, BaseHTTPRequestHandler, bytes], None]] = {
    "png": lambda _, handler, image: send(handler, 200, inverted_png(image), "image/png"),
    "json": lambda _, handler, image: send(
        handler, 200, json.dumps({"image": base64.b64encode(inverted_png(image)).decode()}).encode(), "application/json"
    ),
    "redirect": lambda _, handler, image: send(
        handler, 302, b"", "text/plain", Location="http://169.254.169.254/latest/meta-data/"
    ),
    "slow": answer_late,
    "oversize": lambda _, handler, image: send(handler, 200, bytes(MAX_REPLY_BYTES + 1), "image/png"),
    "oversize streamed": lambda _, handler, image: stream_without_length(handler, 30),
    "not an image": lambda _, handler, image: send(handler, 200, b"<html>It works!</html>", "text/html"),
    "truncated": lambda _, handler, image: send(handler, 200, inverted_png(image)[:5000], "image/png"),
    "json without image": lambda _, handler, image: send(handler, 200, b'{"status": "ok"}', "application/json"),
    "server error": lambda _, handler, image: send(
        handler, 500, b"CUDA out of memory. " + b"Tried to allocate 2.00 GiB. " * 40, "text/plain"
    ),
    "hold": hold,
}


@pytest.fixture(scope="module")
def stand_in() -> Iterator[GpuStandIn]:
    gpu = GpuStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            # Artboard may hang up first (a timeout, a size cap): what it should do.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                gpu.answer(self)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gpu.url = f"http://127.0.0.1:{server.server_address[1]}/v1/img2img"
    yield gpu
    gpu.release.set()
    server.shutdown()


@pytest.fixture
def gpu(stand_in: GpuStandIn) -> Iterator[GpuStandIn]:
    stand_in.reply, stand_in.secret = "png", ""
    stand_in.calls.clear()
    stand_in.release.clear()
    yield stand_in
    stand_in.release.set()


SETTINGS = {"job_max_attempts": 1, "gpu_timeout_s": TIMEOUT_S, "gpu_max_response_bytes": MAX_REPLY_BYTES}


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """Artboard whose operator allows 127.0.0.1, where the stand-in listens."""
    with (
        live_server(tmp_path_factory.mktemp("gpu"), gpu_endpoint_allowlist=["127.0.0.1"], **SETTINGS) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Artboard with an empty allowlist: no internal address may be called."""
    with live_server(tmp_path_factory.mktemp("gpu-guarded"), **SETTINGS) as server:
        yield server


def register_gpu(client: httpx.Client, account: Account, url: str) -> str:
    saved = client.put("/auth/gpu-endpoint", json={"gpu_endpoint": url}, headers=account.headers)
    assert saved.status_code == 200, saved.text
    secret: str = saved.json()["signing_secret"]
    return secret


def gpu_user(client: httpx.Client, gpu: GpuStandIn) -> Account:
    """A user whose GPU server is the stand-in, which knows their secret."""
    account = register_and_login(client)
    gpu.secret = register_gpu(client, account, gpu.url)
    return account


def run_job(client: httpx.Client, account: Account, image_id: str, **parameters: Any) -> dict[str, Any]:
    """Submit a gpu:img2img job and wait for it to finish."""
    response = client.post(
        "/api/jobs",
        json={"model": "gpu:img2img", "image_id": image_id, "parameters": parameters},
        headers={**account.headers, "Prefer": "wait=30"},
    )
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def original(client: httpx.Client, account: Account, image_id: str) -> bytes:
    response = client.get(f"/api/images/{image_id}/file", params={"variant": "original"}, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.content


# ---- the signed call ------------------------------------------------------------------------------------


def test_a_signed_call_sends_the_image_and_parameters_and_keeps_the_servers_picture(
    http: httpx.Client, gpu: GpuStandIn
) -> None:
    account = gpu_user(http, gpu)
    source = upload(http, account)["id"]
    job = run_job(http, account, source, prompt="a fox at dusk", strength=0.4, prompt_guidance=9)
    assert job["status"] == "succeeded", job
    (call,) = gpu.calls
    assert call.body == {
        "job_id": job["id"],
        "image": base64.b64encode(photos.flower()).decode(),
        "content_type": "image/jpeg",
        "prompt": "a fox at dusk",
        "strength": 0.4,
        "guidance": 9.0,
    }
    assert call.headers["content-type"] == "application/json"
    assert call.headers["host"] == httpx.URL(gpu.url).netloc.decode()
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", call.headers["artboard-signature"])
    (output,) = job["result"]["images"]
    assert original(http, account, output) == inverted_png(photos.flower())
    lineage = http.get(f"/api/images/{output}", headers=account.headers).json()["lineage"]
    assert lineage["model"] == "gpu:img2img" and lineage["source_image_id"] == source


def test_seed_000s_gateway_runs_the_gpu_model_end_to_end(http: httpx.Client, gpu: GpuStandIn) -> None:
    account = gpu_user(http, gpu)
    source = upload(http, account)["id"]
    message = {
        "prompt": "ink",
        "prompt_guidance": "7.5",
        "strength": "0.3",
        "uuid": source,
        "model_type": "gpu:img2img",
    }
    sent = http.post("/api/send_message", json=message, headers=account.headers)
    assert sent.status_code == 202, sent.text
    image = poll(
        lambda: http.get("/api/get_image", params={"message_id": sent.json()["message_id"]}, headers=account.headers),
        lambda reply: reply.status_code != 202,
    )
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/png"
    assert image.content == inverted_png(photos.flower())
    assert {key: gpu.calls[0].body[key] for key in ("prompt", "strength", "guidance")} == {
        "prompt": "ink",
        "strength": 0.3,
        "guidance": 7.5,
    }


def test_the_server_may_answer_json_with_a_base64_image(http: httpx.Client, gpu: GpuStandIn) -> None:
    account = gpu_user(http, gpu)
    gpu.reply = "json"
    job = run_job(http, account, upload(http, account)["id"])
    assert job["status"] == "succeeded", job
    assert original(http, account, job["result"]["images"][0]) == inverted_png(photos.flower())


def test_a_new_secret_on_every_change_and_the_old_ones_signatures_fail(http: httpx.Client, gpu: GpuStandIn) -> None:
    account = register_and_login(http)
    first = register_gpu(http, account, gpu.url)
    second = register_gpu(http, account, gpu.url)
    assert first != second
    source = upload(http, account)["id"]
    gpu.secret = first
    refused = run_job(http, account, source)
    assert (refused["status"], refused["error"]["code"]) == ("failed", "gpu_error")
    assert refused["error"]["message"] == 'Your GPU server answered 401: {"error": "bad signature"}'
    gpu.secret = second
    assert run_job(http, account, source)["status"] == "succeeded"


def test_a_gpu_model_needs_a_registered_gpu_server(http: httpx.Client) -> None:
    never = register_and_login(http)
    cleared = register_and_login(http)
    register_gpu(http, cleared, "https://gpu.example.com/")
    http.put("/auth/gpu-endpoint", json={"gpu_endpoint": None}, headers=cleared.headers)
    for account in (never, cleared):
        body = {"model": "gpu:img2img", "image_id": upload(http, account)["id"]}
        refused = assert_envelope(http.post("/api/jobs", json=body, headers=account.headers), 400, "validation_error")
        assert "register your GPU server with PUT /auth/gpu-endpoint first" in refused["message"]


def test_canceling_stops_waiting_for_the_gpu_server(http: httpx.Client, gpu: GpuStandIn) -> None:
    account = gpu_user(http, gpu)
    gpu.reply = "hold"
    body = {"model": "gpu:img2img", "image_id": upload(http, account)["id"]}
    job_id = http.post("/api/jobs", json=body, headers=account.headers).json()["id"]
    assert eventually(lambda: bool(gpu.calls))
    http.post(f"/api/jobs/{job_id}/cancel", headers=account.headers)
    job = poll(
        lambda: http.get(f"/api/jobs/{job_id}", headers=account.headers),
        lambda reply: reply.json()["status"] not in ("queued", "running"),
        within_s=10,
    )
    assert job.json()["status"] == "canceled"


# ---- what the server answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        (
            "redirect",
            "gpu_redirect",
            "Your GPU server answered 302, a redirect to http://169.254.169.254/latest/meta-data/; "
            "Artboard does not follow redirects: register the final URL.",
        ),
        ("slow", "gpu_timeout", f"Your GPU server did not answer within {TIMEOUT_S:g} s."),
        ("oversize", "gpu_response_too_large", f"Your GPU server's reply is larger than {MAX_REPLY_BYTES} bytes."),
        (
            "oversize streamed",
            "gpu_response_too_large",
            f"Your GPU server's reply is larger than {MAX_REPLY_BYTES} bytes.",
        ),
        ("not an image", "gpu_invalid_image", "Your GPU server's reply is not an image Artboard accepts: "),
        ("truncated", "gpu_invalid_image", "Your GPU server's reply is a truncated or corrupt image."),
        ("json without image", "gpu_invalid_image", 'Your GPU server answered JSON without a base64 "image" field.'),
        ("server error", "gpu_error", "Your GPU server answered 500: CUDA out of memory. Tried to allocate"),
    ],
)
def test_an_answer_that_is_not_a_usable_image_fails_the_job_saying_why(
    http: httpx.Client, gpu: GpuStandIn, reply: str, code: str, message: str
) -> None:
    account = gpu_user(http, gpu)
    gpu.reply = reply
    job = run_job(http, account, upload(http, account)["id"])
    assert (job["status"], job["error"]["code"]) == ("failed", code), job
    assert job["error"]["message"].startswith(message), job["error"]
    assert len(job["error"]["message"]) < 400, "an excerpt, not the whole body"
    assert len(gpu.calls) == 1, "a redirect is not followed, nothing is retried"


# ---- SSRF at call time ----------------------------------------------------------------------------------


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[list[str]]]:
    """Names this test answers (the live server runs in this process): each lookup takes the next answer, the
    last one repeating; other names resolve as usual."""
    answers: dict[str, list[list[str]]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def test_the_call_goes_to_the_address_that_was_checked_with_the_name_as_host(
    http: httpx.Client, gpu: GpuStandIn, dns: dict[str, list[list[str]]]
) -> None:
    """DNS rebinding: a name that answers differently once checked is still called at the checked address."""
    endpoint = httpx.URL(gpu.url).copy_with(host="gpu.example.test")
    dns["gpu.example.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    account = register_and_login(http)
    gpu.secret = register_gpu(http, account, str(endpoint))
    assert run_job(http, account, upload(http, account)["id"])["status"] == "succeeded"
    assert gpu.calls[0].headers["host"] == f"gpu.example.test:{endpoint.port}"


def test_https_is_verified_against_the_host_name_while_connecting_to_the_checked_address(
    http: httpx.Client, dns: dict[str, list[list[str]]], tmp_path: Path
) -> None:
    """A TLS server on the checked address sees the name in SNI, and its self-signed certificate is refused."""
    names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed(tmp_path, "gpu.example.test"))
    context.sni_callback = lambda _socket, name, _context: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=handshake_once, args=(listener, context), daemon=True).start()
    dns["gpu.example.test"] = [["127.0.0.1"]]
    account = register_and_login(http)
    register_gpu(http, account, f"https://gpu.example.test:{listener.getsockname()[1]}/")
    job = run_job(http, account, upload(http, account)["id"])
    assert (job["status"], job["error"]["code"]) == ("failed", "gpu_unreachable"), job
    assert "CERTIFICATE_VERIFY_FAILED" in job["error"]["message"]
    assert names == ["gpu.example.test"]


def self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """A certificate for ``host`` that no trust store knows, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def handshake_once(listener: socket.socket, context: ssl.SSLContext) -> None:
    connection, _ = listener.accept()
    with connection, contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
        pass
    listener.close()


@pytest.mark.parametrize(
    ("endpoint", "resolves_to", "why"),
    [
        pytest.param("http://127.0.0.1:{port}/v1/img2img", None, "127.0.0.1 is a loopback address", id="loopback"),
        pytest.param("http://10.0.0.5:7860/", None, "10.0.0.5 is a private address", id="private"),
        pytest.param(
            "http://169.254.169.254/latest/meta-data/",
            None,
            "169.254.169.254 is a cloud metadata address",
            id="metadata",
        ),
        pytest.param("http://localhost:{port}/v1/img2img", None, "localhost is a loopback address", id="localhost"),
        pytest.param(
            "http://gpu.example.test:{port}/v1/img2img",
            ["127.0.0.1"],
            "127.0.0.1 is a loopback address",
            id="a name resolving to loopback",
        ),
        pytest.param(
            "http://gpu.example.test:{port}/",
            ["93.184.215.14", "127.0.0.1"],
            "127.0.0.1 is a loopback address",
            id="any internal address of a name",
        ),
        pytest.param(
            "https://gpu.example.test/",
            ["169.254.169.254"],
            "169.254.169.254 is a cloud metadata address",
            id="a name resolving to metadata",
        ),
    ],
)
def test_an_internal_address_is_refused_when_the_call_is_made(
    guarded: LiveServer,
    gpu: GpuStandIn,
    dns: dict[str, list[list[str]]],
    endpoint: str,
    resolves_to: list[str] | None,
    why: str,
) -> None:
    """The URL is written straight into the database where the save-time check would refuse it: as if the
    operator had allowed it then, or the name resolved elsewhere when it was saved."""
    endpoint = endpoint.format(port=httpx.URL(gpu.url).port)
    if resolves_to is not None:
        dns[httpx.URL(endpoint).host] = [resolves_to]
    with httpx.Client(base_url=guarded.url, timeout=60) as client:
        account = register_and_login(client)
        register_gpu(client, account, "https://gpu.example.com/")
        run_sql(guarded, "UPDATE users SET gpu_endpoint = :url WHERE id = :id", url=endpoint, id=account.user["id"])
        job = run_job(client, account, upload(client, account)["id"])
    assert (job["status"], job["error"]["code"]) == ("failed", "gpu_endpoint_refused"), job
    assert job["error"]["message"].startswith(f"Artboard will not call your GPU server: {why}"), job["error"]
    assert gpu.calls == []


# ---- the signature -----------------------------------------------------------------------------------------


def docs_verifier() -> Callable[[str, str, bytes], bool]:
    """The verifier docs/gpu-endpoint.md gives GPU servers, run as they would copy it."""
    (code,) = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 (our own documentation)
    verify: Callable[[str, str, bytes], bool] = namespace["verify"]
    return verify


SECRET = "absec_test-secret"
BODY = b'{"job_id": "j1", "prompt": "a fox"}'


def signed(secret: str = SECRET, age_s: int = 0) -> Callable[[], str]:
    """A header signed when the test runs (collection may come minutes before), ``age_s`` seconds ago."""
    return lambda: call_signature.sign(secret, BODY, int(time.time()) - age_s)


def with_time_changed() -> str:
    now = int(time.time())
    return call_signature.sign(SECRET, BODY, now).replace(f"t={now}", f"t={now - 1}")


@pytest.mark.parametrize(
    ("header", "body", "valid"),
    [
        pytest.param(signed(), BODY, True, id="fresh"),
        pytest.param(signed(age_s=200), BODY, True, id="200 s old"),
        pytest.param(signed(), BODY + b" ", False, id="body changed"),
        pytest.param(signed("absec_another"), BODY, False, id="another secret"),
        pytest.param(signed(age_s=400), BODY, False, id="too old"),
        pytest.param(signed(age_s=-400), BODY, False, id="from the future"),
        pytest.param(with_time_changed, BODY, False, id="time changed"),
        pytest.param(lambda: signed()().partition(",")[2], BODY, False, id="no time"),
        pytest.param(lambda: "", BODY, False, id="no header"),
        pytest.param(lambda: "t=abc,v1=00", BODY, False, id="garbage"),
    ],
)
def test_the_signature_verifies_only_the_same_body_with_the_secret_recently(
    header: Callable[[], str], body: bytes, valid: bool
) -> None:
    assert call_signature.verify(SECRET, header(), body) is valid
    assert docs_verifier()(SECRET, header(), body) is valid

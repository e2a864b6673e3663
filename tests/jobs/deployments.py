"""Artboard deployed as separate processes, as an operator runs it: `artboard serve` and `artboard worker` over
one database, broker and storage, and the real services behind them (Azurite for the Azure queue)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
from PIL import Image
from redis import Redis

from artboard.config import load_settings
from tests import photos
from tests.support import REDIS_URL, LiveServer, free_port, run_sql, serving_process

ARTBOARD = str(Path(sys.executable).parent / "artboard")
AZURITE_QUEUE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / ".bin" / "azurite-queue"
# Azurite's development account: documented by Microsoft, the same on every machine.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str, within_s: float = 30) -> T:
    """Poll ``check`` until it returns something true (bounded); return that."""
    deadline = time.monotonic() + within_s
    while True:
        if value := check():
            return value
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


@cache
def twelve_megapixel_photo() -> bytes:
    """A real photograph upscaled to 4000x3000 (12 MP), as a phone takes them."""
    image = Image.open(io.BytesIO(photos.flower())).resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def upload(http: httpx.Client, headers: dict[str, str], data: bytes) -> str:
    response = http.post("/api/images", files={"file": ("photo.jpg", data, "image/jpeg")}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def submit_sketches(http: httpx.Client, headers: dict[str, str], image_id: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = http.post("/api/jobs", json={"model": "sketch:charcoal", "image_id": image_id}, headers=headers)
        assert response.status_code == 202, response.text
        ids.append(str(response.json()["id"]))
    return ids


def finished(http: httpx.Client, headers: dict[str, str], job_id: str, within_s: float = 60) -> dict[str, Any]:
    """The job once it has finished, whatever the outcome."""

    def look() -> dict[str, Any] | None:
        job: dict[str, Any] = http.get(f"/api/jobs/{job_id}", headers=headers).json()
        return job if job["status"] in {"succeeded", "failed", "canceled", "timed_out"} else None

    return eventually(look, f"job {job_id} to finish", within_s)


@contextmanager
def azurite() -> Iterator[str]:
    """Azurite's queue service on a free port, in memory; yields its connection string."""
    port = free_port()
    argv = [str(AZURITE_QUEUE), "--queuePort", str(port), "--inMemoryPersistence"]
    argv += ["--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"

        def answers() -> bool:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "azurite exited"
            try:
                httpx.get(f"{endpoint}?comp=list", timeout=1)
            except httpx.TransportError:
                return False
            return True

        eventually(answers, "azurite to listen")
        yield (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"QueueEndpoint={endpoint};"
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def redis_stream() -> Iterator[str]:
    """A Redis stream of the test's own, so concurrent test runs on one Redis never take each other's
    wake-ups; deleted afterwards."""
    name = f"artboard:test:{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        redis = Redis.from_url(REDIS_URL)
        redis.delete(name)
        redis.close()


@dataclass
class Deployment:
    """Processes sharing one configuration (``env``); ``data_dir`` is theirs, the log files go beside it."""

    root: Path
    env: dict[str, str]
    servers: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def serve(self, name: str, *flags: str) -> str:
        """Start `artboard serve` and return its URL once /health answers."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [ARTBOARD, "serve", "--port", str(port), "--data-dir", str(self.data_dir), *flags]
        self.processes[name] = self._stack.enter_context(
            serving_process(argv, self.root, f"{url}/health", env=self.env, log_name=f"{name}.log")
        )
        self.servers.append(url)
        return url

    def worker(self, name: str, *flags: str) -> subprocess.Popen[bytes]:
        """Start `artboard worker` (it serves no HTTP: see ``live_workers`` for when it is up)."""
        argv = [ARTBOARD, "--data-dir", str(self.data_dir), "worker", *flags]
        process = self._stack.enter_context(
            serving_process(argv, self.root, None, env=self.env, log_name=f"{name}.log")
        )
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """``kill -9``: no shutdown code runs."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text()

    def sql(self, statement: str, **params: Any) -> list[Any]:
        settings = load_settings(
            data_dir=self.data_dir, database_url=self.env.get("ARTBOARD_DATABASE_URL"), broker="embedded"
        )
        return run_sql(LiveServer("", settings, None), statement, **params)

    def worker_ids(self) -> dict[int, str]:
        """The workers that have announced themselves in the database (their first heartbeat), by process id."""
        return {worker_pid(worker_id): worker_id for (worker_id,) in self.sql("SELECT id FROM workers")}

    def wait_for_workers(self, *names: str) -> None:
        pids = {self.processes[name].pid for name in names}
        eventually(lambda: pids <= set(self.worker_ids()), f"workers {names} to start")

    def close(self) -> None:
        self._stack.close()


@contextmanager
def deployment(root: Path, **env: str) -> Iterator[Deployment]:
    running = Deployment(root, {"ARTBOARD_LOG_LEVEL": "warning", **env})
    try:
        yield running
    finally:
        running.close()


def worker_pid(worker_id: str) -> int:
    """Worker ids are ``host-pid-suffix``."""
    return int(worker_id.rsplit("-", 2)[1])

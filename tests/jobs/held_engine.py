"""What the seed route tests share: a real photo in the gallery, and the sketch engine held at the start of each
job until the test lets it go (the live server runs in this process, so patching the class reaches its worker)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from artboard.engines.base import EngineError, EngineResult, JobCanceled, JobContext
from artboard.engines.sketch_engine import SketchEngine
from tests import photos
from tests.support import Account

FINISHED = ("succeeded", "failed", "canceled", "timed_out")
REAL_RUN = SketchEngine.run


@dataclass
class HeldEngine:
    """Each sketch job waits at its start until ``release`` is set (or it is told to stop), then fails with
    ``failure`` if one is set, else draws for real."""

    release: threading.Event = field(default_factory=threading.Event)
    failure: EngineError | None = None

    async def run(self, engine: SketchEngine, context: JobContext) -> EngineResult:
        while not self.release.is_set():
            if context.should_stop():
                raise JobCanceled("stopped while held")
            await asyncio.sleep(0.02)
        if self.failure is not None:
            raise self.failure
        return await REAL_RUN(engine, context)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Hold every sketch job the live server runs until the monkeypatch is undone."""

        async def run(engine: SketchEngine, context: JobContext) -> EngineResult:
            return await self.run(engine, context)

        monkeypatch.setattr(SketchEngine, "run", run)


def upload(client: httpx.Client, account: Account, data: bytes | None = None) -> dict[str, Any]:
    response = client.post(
        "/api/images", files={"file": ("photo.jpg", data or photos.flower())}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    image: dict[str, Any] = response.json()
    return image


def poll(
    read: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool], within_s: float = 60
) -> httpx.Response:
    """Read until ``done`` says so, for at most ``within_s`` seconds; the last reply either way."""
    deadline = time.monotonic() + within_s
    while True:
        response = read()
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def eventually(check: Callable[[], bool], within_s: float = 10) -> bool:
    """Whether ``check`` holds within ``within_s`` seconds (for what happens after a commit, off the request)."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

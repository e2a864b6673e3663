"""Health facts: is the database answering, and how loaded is this machine."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class HealthReport(NamedTuple):
    body: bytes  # JSON
    status_code: int


class SystemHealth:
    """The report behind ``/health``, worked out and encoded at most once a second: load balancers poll
    often, and a database ping per request cost ten times what the rest of the route does. A database that
    goes away shows within a second; one that stops answering shows after ``PING_TIMEOUT_S``."""

    TTL_S = 1.0

    def __init__(
        self,
        engine: AsyncEngine,
        data_dir: str,
        version: str,
        jobs_health: Callable[[], Awaitable[dict[str, Any]]],
    ) -> None:
        self._engine = engine
        self._jobs_health = jobs_health
        self._data_dir = data_dir
        self._version = version
        self._started_at = time.monotonic()
        self._checked_at = -self.TTL_S
        self._body = b""
        self._status_code = 503
        self._lock = asyncio.Lock()

    async def report(self) -> HealthReport:
        """The report, encoded as JSON: 200, or 503 when the database is down."""
        if time.monotonic() - self._checked_at >= self.TTL_S:
            async with self._lock:  # one ping for a burst of callers, not one each
                if time.monotonic() - self._checked_at >= self.TTL_S:
                    await self._check()
        return HealthReport(self._body, self._status_code)

    async def _check(self) -> None:
        database = await database_health(self._engine)
        report = {
            "status": "ok" if database["ok"] else "degraded",
            "version": self._version,
            "uptime_s": round(time.monotonic() - self._started_at, 1),
            "database": database,
            "jobs": await self._jobs_health() if database["ok"] else {},
            "system": _read_metrics(self._data_dir),
        }
        self._body = json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()
        self._status_code = 200 if database["ok"] else 503
        self._checked_at = time.monotonic()


PING_TIMEOUT_S = 3.0


async def database_health(engine: AsyncEngine) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PING_TIMEOUT_S), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason is reported, not raised
        return {"ok": False, "latency_ms": None, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def _read_metrics(data_dir: str) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(data_dir)
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory": {"total": memory.total, "available": memory.available, "percent": memory.percent},
        "disk": {"total": disk.total, "free": disk.free, "percent": disk.percent},
    }

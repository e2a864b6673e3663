"""Health facts: is the database answering, and how loaded is this machine."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class DatabaseHealth:
    """The database check behind ``/health``, run at most once a second: load balancers poll often, and a
    ping per request cost ten times what the rest of the route does. A database that goes away shows
    within a second."""

    TTL_S = 1.0

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._checked_at = -self.TTL_S
        self._last: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def check(self) -> dict[str, Any]:
        if time.monotonic() - self._checked_at < self.TTL_S:
            return self._last
        async with self._lock:  # one ping for a burst of callers, not one each
            if time.monotonic() - self._checked_at >= self.TTL_S:
                self._last = await database_health(self._engine)
                self._checked_at = time.monotonic()
        return self._last


async def database_health(engine: AsyncEngine) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the reason is reported, not raised
        return {"ok": False, "latency_ms": None, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


_METRICS_TTL_S = 1.0
_metrics_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def system_metrics(data_dir: str) -> dict[str, Any]:
    """CPU, memory and disk figures, read at most once a second: load balancers poll health often."""
    now = time.monotonic()
    cached = _metrics_cache.get(data_dir)
    if cached is not None and now - cached[0] < _METRICS_TTL_S:
        return cached[1]
    metrics = _read_metrics(data_dir)
    _metrics_cache[data_dir] = (now, metrics)
    return metrics


def _read_metrics(data_dir: str) -> dict[str, Any]:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(data_dir)
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory": {"total": memory.total, "available": memory.available, "percent": memory.percent},
        "disk": {"total": disk.total, "free": disk.free, "percent": disk.percent},
    }

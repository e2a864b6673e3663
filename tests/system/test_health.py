"""System routes: health reports and the routes that need no sign-in."""

from __future__ import annotations

import httpx


def test_health_reports_database_and_system(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["uptime_s"] >= 0
    assert body["database"]["ok"] is True and body["database"]["latency_ms"] >= 0
    assert set(body["system"]) == {"cpu_percent", "memory", "disk"}


def test_liveness_routes_need_no_sign_in(client: httpx.Client) -> None:
    assert client.get("/api/health/status").status_code == 200
    assert client.get("/api/custom/test").status_code == 200

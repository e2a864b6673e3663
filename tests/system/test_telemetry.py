"""OpenTelemetry: FastAPI's request spans go to the process's tracer provider only when the operator turns them on
(``ARTBOARD_OPENTELEMETRY``); otherwise no request pays for asking whether a provider is configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace

from tests.support import live_server


class RecordingTracer(trace.Tracer):
    def __init__(self, names: list[str]) -> None:
        self._names = names

    def start_span(self, name: str, *_args: Any, **_kwargs: Any) -> trace.Span:
        self._names.append(name)
        return trace.INVALID_SPAN

    @contextmanager  # type: ignore[override]
    def start_as_current_span(self, name: str, *_args: Any, **_kwargs: Any) -> Iterator[trace.Span]:
        self._names.append(name)
        yield trace.INVALID_SPAN


class RecordingProvider(trace.TracerProvider):
    """A configured provider (not the API's placeholder) that keeps the names of the spans started."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def get_tracer(self, *_args: Any, **_kwargs: Any) -> trace.Tracer:
        return RecordingTracer(self.names)


@pytest.fixture(scope="module")
def provider() -> RecordingProvider:
    """The process's tracer provider, as `opentelemetry-instrument` would set it (once per process)."""
    recording = RecordingProvider()
    trace.set_tracer_provider(recording)
    return recording


@pytest.mark.parametrize(("setting", "traced"), [({}, False), ({"opentelemetry": True}, True)])
def test_requests_are_traced_only_when_turned_on(
    provider: RecordingProvider, tmp_path: Path, setting: dict[str, bool], traced: bool
) -> None:
    provider.names.clear()
    with live_server(tmp_path / "data", **setting) as server:
        assert httpx.get(f"{server.url}/api/custom/test").status_code == 200
    assert ("fastapi.endpoint" in provider.names) is traced, provider.names

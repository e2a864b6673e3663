"""Work started ahead of need whose outcome may never be awaited."""

from __future__ import annotations

import asyncio
from typing import Any


def outcome_seen(task: asyncio.Future[Any]) -> None:
    """A done callback: marks the outcome as seen, so asyncio does not log an exception nobody awaited (the
    caller has gone another way and needs neither the result nor the error)."""
    if not task.cancelled():
        task.exception()

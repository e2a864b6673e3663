"""Periodic housekeeping: empty expired trash, finish interrupted blob writes and deletes, drop stale uploads."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import transaction
from artboard.library.service import Library
from artboard.library.uploads import DirectUploads

log = logging.getLogger("artboard.maintenance")


@dataclass(frozen=True)
class MaintenanceReport:
    images: int
    folders: int
    blobs: int
    unfinished_blobs: int
    stale_uploads: int


async def run_maintenance(
    sessions: async_sessionmaker[AsyncSession], library: Library, uploads: DirectUploads
) -> MaintenanceReport:
    async with transaction(sessions) as db:
        purged = await library.purge(db)
    unfinished = await library.media.sweep()
    stale = await uploads.sweep()
    return MaintenanceReport(purged.images, purged.folders, purged.blobs, unfinished, stale)


async def maintenance_loop(
    sessions: async_sessionmaker[AsyncSession], library: Library, uploads: DirectUploads, interval_s: float
) -> None:
    """Runs until cancelled; a failed round is logged and retried next interval, never fatal."""
    while True:
        try:
            report = await run_maintenance(sessions, library, uploads)
            log.info("maintenance", extra={"fields": report.__dict__})
        except Exception:
            log.exception("maintenance round failed")
        await asyncio.sleep(interval_s)

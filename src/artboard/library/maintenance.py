"""Periodic housekeeping: empty expired trash, finish interrupted blob writes and deletes, drop stale uploads."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard.db import transaction
from artboard.library.service import Library
from artboard.uploads.service import DirectUploads

log = logging.getLogger("artboard.maintenance")


@dataclass(frozen=True)
class MaintenanceReport:
    images: int
    folders: int
    blobs: int
    unfinished_blobs: int
    stale_uploads: int


class Maintenance:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], library: Library, uploads: DirectUploads) -> None:
        self._sessions = sessions
        self._library = library
        self._uploads = uploads

    async def run(self) -> MaintenanceReport:
        async with transaction(self._sessions) as db:
            purged = await self._library.purge(db)
        unfinished = await self._library.media.sweep()
        stale = await self._uploads.sweep()
        return MaintenanceReport(purged.images, purged.folders, purged.blobs, unfinished, stale)

    async def loop(self, interval_s: float) -> None:
        """Runs until cancelled; a failed round is logged and retried next interval, never fatal."""
        while True:
            try:
                report = await self.run()
                log.info("maintenance", extra={"fields": report.__dict__})
            except Exception:
                log.exception("maintenance round failed")
            await asyncio.sleep(interval_s)

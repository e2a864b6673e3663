"""The shared resources of a running Artboard, built in one place.

``open_resources`` is the only code that builds them: the app's lifespan and the CLI both use it, so
what a route sees and what ``artboard user create`` sees are the same objects made the same way. Routes
reach them through the typed dependencies in ``deps.py``. Something new (a broker, an engine, a vault)
is one field here and one line in ``open_resources``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from artboard.auth.principal import RevocationBus, TokenCache
from artboard.auth.service import Accounts, LoginLimits
from artboard.config import Settings, ensure_secret, prepare_data_dir
from artboard.db import create_engine, session_factory
from artboard.kit.pubsub import PubSub, build_pubsub
from artboard.kit.ratelimit import build_failure_counter
from artboard.kit.signing import UrlSigner
from artboard.kit.tokens import TokenSigner
from artboard.library.maintenance import Maintenance
from artboard.library.service import Library
from artboard.media.service import ImageLimits, Media
from artboard.media.storage import Storage, build_storage
from artboard.migrate import upgrade_async
from artboard.system.service import DatabaseHealth
from artboard.uploads.service import DirectUploads


@dataclass(frozen=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis | None
    pubsub: PubSub
    revocations: RevocationBus
    accounts: Accounts
    storage: Storage
    storage_signer: UrlSigner
    library: Library
    uploads: DirectUploads
    maintenance: Maintenance
    health: DatabaseHealth
    started_at: float

    def background_work(self) -> list[Coroutine[Any, Any, None]]:
        """What a serving process runs beside its requests until it stops."""
        work = [self.pubsub.run(), self.revocations.listen()]
        if self.settings.run_worker:
            work.append(self.maintenance.loop(self.settings.maintenance_interval_s))
        return work


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Migrate the database, build every resource, and close them all on the way out."""
    prepare_data_dir(settings)
    secret = ensure_secret(settings)
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    # Blob bookkeeping commits in transactions of its own, on connections outside the request pool:
    # a request holding a pooled connection must never wait for a second one from the same pool.
    side_engine = create_engine(settings.database_url, pooled=False)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    pubsub = build_pubsub(redis)
    token_cache = TokenCache(settings.auth_cache_s)
    revocations = RevocationBus(pubsub, token_cache)
    accounts = Accounts(
        TokenSigner(secret, settings.jwt_algorithm, timedelta(minutes=settings.access_token_minutes)),
        timedelta(minutes=settings.refresh_token_minutes),
        build_failure_counter(redis),
        LoginLimits(
            settings.login_failures_per_account, settings.login_failures_per_ip, settings.login_failure_window_s
        ),
        token_cache,
        revocations,
    )
    storage_signer = UrlSigner(secret, "storage")
    storage = build_storage(settings, storage_signer)
    limits = ImageLimits(
        frozenset(settings.allowed_file_types), settings.max_image_pixels, settings.storage_quota_bytes
    )
    library = Library(
        Media(storage, session_factory(side_engine), limits), timedelta(days=settings.trash_retention_days)
    )
    uploads = DirectUploads(library, storage_signer, settings.max_file_size, settings.presigned_url_expiration_s)
    sessions = session_factory(engine)
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            sessions=sessions,
            redis=redis,
            pubsub=pubsub,
            revocations=revocations,
            accounts=accounts,
            storage=storage,
            storage_signer=storage_signer,
            library=library,
            uploads=uploads,
            maintenance=Maintenance(sessions, library, uploads),
            health=DatabaseHealth(engine),
            started_at=time.monotonic(),
        )
    finally:
        await pubsub.close()
        await engine.dispose()
        await side_engine.dispose()
        if redis is not None:
            await redis.aclose()


@asynccontextmanager
async def running(work: list[Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Run background coroutines while the block runs; cancel and await them when it ends."""
    tasks = [asyncio.create_task(coroutine) for coroutine in work]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

"""The FastAPI application: every domain's router over one set of shared resources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis

from artboard import __version__
from artboard.auth import admin as auth_admin
from artboard.auth import pocketbase as auth_pocketbase
from artboard.auth import routes as auth_routes
from artboard.auth.principal import RevocationBus, TokenCache
from artboard.auth.service import Accounts, LoginLimits
from artboard.config import Settings, ensure_secret, load_settings
from artboard.db import create_engine, session_factory
from artboard.errors import install_error_handlers
from artboard.kit.ratelimit import FailureCounter, MemoryFailureCounter, RedisFailureCounter
from artboard.kit.signing import UrlSigner
from artboard.kit.tokens import TokenSigner
from artboard.library import routes as library_routes
from artboard.library.maintenance import maintenance_loop
from artboard.library.service import Library
from artboard.library.uploads import DirectUploads
from artboard.logs import configure_logging
from artboard.media import routes as media_routes
from artboard.media.service import ImageLimits, Media
from artboard.media.storage import build_storage
from artboard.middleware import RequestContext
from artboard.migrate import upgrade_async
from artboard.system import routes as system_routes


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        secret = ensure_secret(settings)
        await upgrade_async(settings.database_url)
        engine = create_engine(settings.database_url)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        failures: FailureCounter = RedisFailureCounter(redis) if redis else MemoryFailureCounter()
        token_cache = TokenCache(settings.auth_cache_s)
        revocations = RevocationBus(redis, token_cache) if redis else None
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.redis = redis
        app.state.accounts = Accounts(
            TokenSigner(secret, settings.jwt_algorithm, timedelta(minutes=settings.access_token_minutes)),
            timedelta(minutes=settings.refresh_token_minutes),
            failures,
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
        # Blob bookkeeping commits in transactions of its own, on connections outside the request pool:
        # a request holding a pooled connection must never wait for a second one from the same pool.
        side_engine = create_engine(settings.database_url, pooled=False)
        media = Media(storage, session_factory(side_engine), limits)
        library = Library(media, timedelta(days=settings.trash_retention_days))
        app.state.storage, app.state.storage_signer, app.state.library = storage, storage_signer, library
        app.state.uploads = DirectUploads(
            library, storage_signer, settings.max_file_size, settings.presigned_url_expiration_s
        )
        app.state.started_at = time.monotonic()
        background = (
            [
                asyncio.create_task(
                    maintenance_loop(app.state.sessions, library, app.state.uploads, settings.maintenance_interval_s)
                )
            ]
            if settings.run_worker
            else []
        )
        if revocations is not None:
            background.append(asyncio.create_task(revocations.listen()))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await engine.dispose()
            await side_engine.dispose()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="Artboard",
        version=__version__,
        lifespan=lifespan,
        description="Accounts, image jobs, a gallery and live progress for AI-image apps.",
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(RequestContext)
    for module in (system_routes, auth_routes, auth_admin, auth_pocketbase, library_routes, media_routes):
        app.include_router(module.router)
    return app


def app_from_environment() -> FastAPI:
    """The app for each process of ``artboard serve --workers N``: settings and logging from the environment."""
    settings = load_settings()
    configure_logging(settings.log_level)
    return create_app(settings)

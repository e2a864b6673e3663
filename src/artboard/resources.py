"""The shared resources of a running Artboard, built in one place.

``open_resources`` is the only code that builds them: the app's lifespan and the CLI both use it, so
what a route sees and what ``artboard user create`` sees are the same objects made the same way. Routes
reach them through the typed dependencies in ``deps.py``. Something new (a broker, an engine, a vault)
is one field here and one line in ``open_resources``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from artboard import __version__
from artboard.auth.gpu_signing import GpuSigning
from artboard.auth.identity import Identity, build_identity
from artboard.auth.principal import RevocationBus, TokenCache
from artboard.auth.service import Accounts, LoginLimits
from artboard.config import Settings, ensure_secret, prepare_data_dir
from artboard.db import create_engine, session_factory
from artboard.engines.catalog import build_catalog
from artboard.jobs.broker import build_broker
from artboard.jobs.events import EventLog
from artboard.jobs.paid import PaidJobs
from artboard.jobs.service import JobLimits, Jobs
from artboard.jobs.worker import Worker, WorkerSettings, new_worker_id
from artboard.kit.pubsub import PubSub, build_pubsub
from artboard.kit.ratelimit import build_failure_counter
from artboard.kit.signing import UrlSigner
from artboard.kit.tokens import TokenSigner
from artboard.library.maintenance import Maintenance
from artboard.library.service import Library
from artboard.library.spending import Spending
from artboard.media.service import ImageLimits, Media
from artboard.media.storage import build_storage
from artboard.migrate import upgrade_async
from artboard.system.service import SystemHealth
from artboard.uploads.service import DirectUploads
from artboard.vault.credentials import JobKeys, ProviderKeys
from artboard.vault.crypto import ServerKey
from artboard.vault.service import Vault
from artboard.vault.sessions import build_session_store

log = logging.getLogger("artboard")


@dataclass(frozen=True)
class Resources:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    pubsub: PubSub
    revocations: RevocationBus
    accounts: Accounts
    identity: Identity
    library: Library
    uploads: DirectUploads
    maintenance: Maintenance
    health: SystemHealth
    jobs: Jobs
    worker: Worker
    vault: Vault
    spending: Spending

    def background_work(self) -> list[Coroutine[Any, Any, None]]:
        """What a serving process runs beside its requests until it stops."""
        work = [
            self.pubsub.run(),
            self.revocations.listen(),
            self.vault.sweep_loop(self.settings.vault_sweep_interval_s),
        ]
        if self.settings.run_worker:
            work += self.job_work()
        return work

    def job_work(self) -> list[Coroutine[Any, Any, None]]:
        """The job worker and the maintenance beside it: what ``artboard worker`` runs (with the pub/sub)."""
        return [self.maintenance.loop(self.settings.maintenance_interval_s), self.worker.run()]


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Migrate the database, build every resource, and close what holds connections on the way out
    (also when building a later one fails)."""
    prepare_data_dir(settings)
    secret = ensure_secret(settings)
    await upgrade_async(settings.database_url)
    async with AsyncExitStack() as closing:
        engine = create_engine(settings.database_url)
        closing.push_async_callback(engine.dispose)
        # Blob bookkeeping commits in transactions of its own, on a pool of its own: a request holding a
        # connection of the request pool must never wait for a second one from that pool.
        side_engine = create_engine(settings.database_url)
        closing.push_async_callback(side_engine.dispose)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        if redis is not None:
            closing.push_async_callback(redis.aclose)
        pubsub = build_pubsub(redis)
        closing.push_async_callback(pubsub.close)
        token_cache = TokenCache(settings.auth_cache_s)
        revocations = RevocationBus(pubsub, token_cache)
        failures = build_failure_counter(redis)  # wrong passwords, at sign-in and at the vault alike
        login_limits = LoginLimits(
            settings.login_failures_per_account, settings.login_failures_per_ip, settings.login_failure_window_s
        )
        gpu_signing = GpuSigning(ServerKey(secret, "gpu signing"))
        accounts = Accounts(
            TokenSigner(secret, settings.jwt_algorithm, timedelta(minutes=settings.access_token_minutes)),
            timedelta(minutes=settings.refresh_token_minutes),
            failures,
            login_limits,
            token_cache,
            gpu_signing,
            revocations,
        )
        storage_signer = UrlSigner(secret, "storage")
        limits = ImageLimits(
            frozenset(settings.allowed_file_types), settings.max_image_pixels, settings.storage_quota_bytes
        )
        media = Media(build_storage(settings, storage_signer), session_factory(side_engine), limits)
        closing.callback(media.close)
        library = Library(media, timedelta(days=settings.trash_retention_days))
        uploads = DirectUploads(library, storage_signer, settings.max_file_size, settings.presigned_url_expiration_s)
        sessions = session_factory(engine)
        identity = build_identity(settings, accounts, sessions, token_cache)
        closing.push_async_callback(identity.close)
        worker_id = new_worker_id()
        broker = build_broker(settings, pubsub, redis, consumer=worker_id)
        closing.push_async_callback(broker.close)
        vault = Vault(
            build_session_store(redis, ServerKey(secret, "vault sessions")),
            failures,
            login_limits,
            timedelta(seconds=settings.vault_session_ttl_s),
            settings.vault_kdf_iterations,
        )
        spending = Spending(settings.monthly_budget)
        paid = PaidJobs(
            ProviderKeys(vault, {"fal": settings.fal_key, "openai": settings.openai_api_key}),
            JobKeys(ServerKey(secret, "job keys")),
            gpu_signing,
            spending,
        )
        catalog = build_catalog(settings)
        closing.push_async_callback(catalog.close)
        jobs = Jobs(
            sessions,
            catalog,
            library,
            EventLog(pubsub, sessions),
            broker,
            pubsub,
            JobLimits(
                settings.max_queued_per_user, settings.job_max_attempts, timedelta(seconds=3 * settings.job_lease_s)
            ),
            paid,
        )
        worker = Worker(
            sessions,
            jobs,
            library,
            broker,
            pubsub,
            WorkerSettings(
                concurrency=settings.max_concurrent_tasks,
                task_timeout_s=settings.task_timeout_s,
                lease_s=settings.job_lease_s,
                max_running_per_user=settings.max_running_per_user,
                event_retention=timedelta(hours=settings.event_retention_hours),
                event_keep_per_user=settings.event_retention_per_user,
            ),
            worker_id,
        )
        jobs.local_worker = worker
        yield Resources(
            settings=settings,
            sessions=sessions,
            pubsub=pubsub,
            revocations=revocations,
            accounts=accounts,
            identity=identity,
            library=library,
            uploads=uploads,
            maintenance=Maintenance(sessions, library, uploads),
            health=SystemHealth(engine, str(settings.data_dir), __version__, jobs.health),
            jobs=jobs,
            worker=worker,
            vault=vault,
            spending=spending,
        )


@asynccontextmanager
async def running(work: list[Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """Run background coroutines while the block runs; cancel and await them when it ends. One that
    stops on an error is logged at once, not discovered at shutdown."""
    tasks = [asyncio.create_task(coroutine) for coroutine in work]
    for task in tasks:
        task.add_done_callback(_report_failure)
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("background work stopped: %s", task.get_coro(), exc_info=error)
